// Resolve hook for globsync-preload.mjs: "fs" imported by the conformance
// CLI resolves to fs-with-globsync.mjs; everything else is untouched.
const shim = new URL("./fs-with-globsync.mjs", import.meta.url).href;

export async function resolve(specifier, context, next) {
  const fromSuite = context.parentURL?.includes("/@modelcontextprotocol/conformance/");
  if (fromSuite && (specifier === "fs" || specifier === "node:fs")) {
    return { url: shim, shortCircuit: true };
  }
  return next(specifier, context);
}
