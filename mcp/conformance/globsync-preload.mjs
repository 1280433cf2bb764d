// Node 20 lacks fs.globSync, which the conformance CLI imports when it
// loads, only for its tier report (a command .ci/conformance does not
// run). A named ES import cannot be added to node:fs afterwards, so this
// preload (node --import) registers a resolve hook that gives the CLI's
// own modules a stand-in fs: every export of node:fs plus a globSync
// that throws. On a Node that has fs.globSync it does nothing.
import fs from "node:fs";
import { register } from "node:module";

if (typeof fs.globSync !== "function") {
  register("./globsync-hooks.mjs", import.meta.url);
}
