package pkce_test

import (
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocSnippetsCompile builds every ```go block of README.md and of the
// guides (docs/*.md), and every code block of the package comment (doc.go) in a module of its own that
// uses this checkout, with go build and go vet: what a reader copies must
// compile.
//
// A snippet is a fragment: it uses variables the text around it names
// (ctx, client, tok, ...) and declares some that the reader uses later.
// Each one becomes a package of its own with
//
//   - the imports of the packages it names (knownPackages);
//   - a declaration of each free variable it uses (prelude);
//   - its statements in the body of a function returning error, followed
//     by "_ = x" for every x it declares at the top level; a snippet made
//     of declarations (func, type) is kept at the top level as it is.
//
// A snippet that uses a name neither list knows fails the test: declare
// the name in the snippet, or add it to prelude.
func TestDocSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	checkout, err := filepath.Abs(".")
	require.NoError(t, err)
	var snippets []snippet
	guides, err := filepath.Glob(filepath.Join("docs", "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, guides, "the guides are in docs/")
	for _, file := range append([]string{"README.md"}, guides...) {
		md, err := os.ReadFile(file)
		require.NoError(t, err)
		snippets = append(snippets, markdownSnippets(file, string(md))...)
	}
	pkgDoc, err := packageDocSnippets("doc.go")
	require.NoError(t, err)
	snippets = append(snippets, pkgDoc...)
	require.NotEmpty(t, snippets)

	dir := t.TempDir()
	for i, s := range snippets {
		src, err := s.program()
		require.NoError(t, err, "%s", s.where)
		pkg := filepath.Join(dir, fmt.Sprintf("snippet%02d", i))
		require.NoError(t, os.Mkdir(pkg, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(pkg, "snippet.go"), src, 0o644))
	}
	gomod := fmt.Sprintf(`module example.com/snippets

go 1.26.0

require (
	github.com/pkcekit/pkce v0.0.0
	github.com/pkcekit/pkce/redisstore v0.0.0
)

replace (
	github.com/pkcekit/pkce => %q
	github.com/pkcekit/pkce/redisstore => %q
)
`, checkout, filepath.Join(checkout, "redisstore"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))

	for _, args := range [][]string{{"mod", "tidy"}, {"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s\n%s", strings.Join(args, " "), err, whereIs(string(out), snippets), out)
		}
	}
}

// A snippet is one code block and where it comes from.
type snippet struct {
	where string // "README.md:59", "docs/backend.md:12"
	code  string
}

var goFence = regexp.MustCompile("(?ms)^```go\n(.*?)^```")

// markdownSnippets returns the ```go blocks of the Markdown text of file;
// blocks in other languages (```sh) are not Go.
func markdownSnippets(file, md string) []snippet {
	var out []snippet
	for _, m := range goFence.FindAllStringSubmatchIndex(md, -1) {
		line := strings.Count(md[:m[2]], "\n") + 1
		out = append(out, snippet{where: fmt.Sprintf("%s:%d", file, line), code: md[m[2]:m[3]]})
	}
	return out
}

// packageDocSnippets returns the code blocks (tab-indented) of the package
// comment of file, except the table of refresh errors, which is text.
func packageDocSnippets(file string) ([]snippet, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		return nil, err
	}
	var p comment.Parser
	var out []snippet
	for i, block := range p.Parse(f.Doc.Text()).Content {
		code, ok := block.(*comment.Code)
		if !ok || strings.HasPrefix(code.Text, "answer to the refresh request") {
			continue
		}
		out = append(out, snippet{where: fmt.Sprintf("%s: package comment, block %d", file, i), code: code.Text})
	}
	return out, nil
}

// knownPackages are the packages snippets may name, by the name they use.
var knownPackages = map[string]string{
	"context":           "context",
	"crypto":            "crypto",
	"ecdsa":             "crypto/ecdsa",
	"ed25519":           "crypto/ed25519",
	"elliptic":          "crypto/elliptic",
	"rand":              "crypto/rand",
	"rsa":               "crypto/rsa",
	"errors":            "errors",
	"filepath":          "path/filepath",
	"fmt":               "fmt",
	"http":              "net/http",
	"log":               "log",
	"os":                "os",
	"time":              "time",
	"url":               "net/url",
	"oauth2":            "golang.org/x/oauth2",
	"pkce":              "github.com/pkcekit/pkce",
	"filestore":         "github.com/pkcekit/pkce/filestore",
	"protected":         "github.com/pkcekit/pkce/protected",
	"clientcredentials": "github.com/pkcekit/pkce/clientcredentials",
	"jwtbearer":         "github.com/pkcekit/pkce/jwtbearer",
	"tokenexchange":     "github.com/pkcekit/pkce/tokenexchange",
	"redisstore":        "github.com/pkcekit/pkce/redisstore",
	"redis":             "github.com/redis/go-redis/v9",
	"servercheck":       "github.com/pkcekit/pkce/servercheck",
	"testing":           "testing",
}

// prelude declares the variables that snippets take from the text around
// them, as the reader would have them at that point.
var prelude = map[string]string{
	"addr":        "var addr string // the Redis address",
	"api":         "var api string // the API's identifier, e.g. https://api.example",
	"cfg":         "var cfg *oauth2.Config",
	"client":      "var client *pkce.Client",
	"configDir":   "var configDir string // os.UserConfigDir()",
	"clientKey":   "var clientKey *ecdsa.PrivateKey // the client's key for private_key_jwt",
	"ctx":         "var ctx context.Context",
	"dpopKey":     "var dpopKey *ecdsa.PrivateKey // the DPoP proof key, kept across runs",
	"db":          "var db interface {\n\tSaveToken(ctx context.Context, userID string, tok *oauth2.Token) error\n}",
	"endpoint":    "var endpoint oauth2.Endpoint",
	"issuer":      "var issuer string // the authorization server's issuer identifier",
	"flow":        "var flow *pkce.Flow",
	"openBrowser": "func openBrowser(url string) error { return nil }",
	"r":           "var r *http.Request",
	"rdb":         "var rdb *redis.Client",
	"save":        "func save(ctx context.Context, tok *pkce.Token) error { return nil }",
	"secret":      "var secret string",
	"sessions": `// sessions is the application's server-side session store.
var sessions interface {
	Save(key string, value any)
	Put(w http.ResponseWriter, r *http.Request, key string, value any)
	Take(r *http.Request, key string) *pkce.Flow
}`,
	"src":    "var src *pkce.TokenSource",
	"store":  "var store pkce.Store",
	"stored": "var stored *oauth2.Token // loaded from the application's database",
	"tok":    "var tok *pkce.Token",
	"tokens": "var tokens *pkce.Tokens",
	"userID": "var userID string",
	"w":      "var w http.ResponseWriter",
}

// program returns the snippet as a Go file of a package of its own.
func (s snippet) program() ([]byte, error) {
	body, top, err := s.parse()
	if err != nil {
		return nil, err
	}
	free := freeNames(top)
	var decls []string
	var imports []string
	for _, name := range free {
		if path, ok := knownPackages[name]; ok {
			imports = append(imports, path)
			continue
		}
		decl, ok := prelude[name]
		if !ok {
			return nil, fmt.Errorf("%s uses %s, which it does not declare and the prelude does not know", s.where, name)
		}
		decls = append(decls, decl)
		declFile, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+decl, 0)
		if err != nil {
			return nil, fmt.Errorf("prelude of %s: %v", name, err)
		}
		for _, pkg := range freeNames(declFile) {
			imports = append(imports, knownPackages[pkg])
		}
	}
	slices.Sort(imports)
	imports = slices.Compact(imports)

	var b strings.Builder
	fmt.Fprintf(&b, "// Code from %s.\n\npackage snippet\n\n", s.where)
	for _, path := range imports {
		fmt.Fprintf(&b, "import %q\n", path)
	}
	b.WriteString("\n" + strings.Join(decls, "\n\n") + "\n\n")
	b.WriteString(body)
	return []byte(b.String()), nil
}

// parse returns the snippet's code as file-level Go and the parsed file:
// declarations as they are, statements wrapped in a function that uses
// what they declare.
func (s snippet) parse() (string, *ast.File, error) {
	if f, err := parser.ParseFile(token.NewFileSet(), "", "package snippet\n"+s.code, 0); err == nil {
		return s.code, f, nil
	}
	body := "func snippet() error {\n" + s.code + "\n"
	f, err := parser.ParseFile(token.NewFileSet(), "", "package snippet\n"+body+"return nil\n}\n", 0)
	if err != nil {
		return "", nil, fmt.Errorf("%s is neither declarations nor statements: %v", s.where, err)
	}
	for _, stmt := range f.Decls[0].(*ast.FuncDecl).Body.List {
		if as, ok := stmt.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
			for _, lhs := range as.Lhs {
				if id := lhs.(*ast.Ident); id.Name != "_" {
					body += "_ = " + id.Name + "\n"
				}
			}
		}
	}
	body += "return nil\n}\n"
	f, err = parser.ParseFile(token.NewFileSet(), "", "package snippet\n"+body, 0)
	return body, f, err
}

// freeNames returns, sorted, the identifiers f uses without declaring
// them, other than Go's predeclared ones: packages, and variables the
// snippet takes from its context.
func freeNames(f *ast.File) []string {
	var decls []ast.Node
	for _, d := range f.Decls {
		decls = append(decls, d)
	}
	free := freeIn(decls...)
	slices.Sort(free)
	return free
}

// freeIn returns the names nodes use but do not declare. Scopes are
// flattened, except that a function literal's parameters and variables
// stay inside it: enough for fragments of a few lines.
func freeIn(nodes ...ast.Node) []string {
	declared, used := map[string]bool{}, map[string]bool{}
	declare := func(ids ...*ast.Ident) {
		for _, id := range ids {
			declared[id.Name] = true
		}
	}
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			for _, name := range freeIn(n.Type, n.Body) {
				used[name] = true
			}
			return false
		case *ast.SelectorExpr: // x.Sel: only x can be free
			ast.Inspect(n.X, visit)
			return false
		case *ast.KeyValueExpr: // a struct field name is not a variable
			if _, ok := n.Key.(*ast.Ident); !ok {
				ast.Inspect(n.Key, visit)
			}
			ast.Inspect(n.Value, visit)
			return false
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, lhs := range n.Lhs {
					declare(lhs.(*ast.Ident))
				}
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok {
						declare(id)
					}
				}
			}
		case *ast.ValueSpec:
			declare(n.Names...)
		case *ast.TypeSpec:
			declare(n.Name)
		case *ast.FuncDecl:
			declare(n.Name)
		case *ast.Field:
			declare(n.Names...)
		case *ast.LabeledStmt, *ast.BranchStmt:
			return false
		case *ast.Ident:
			used[n.Name] = true
		}
		return true
	}
	for _, n := range nodes {
		ast.Inspect(n, visit)
	}
	var free []string
	for name := range used {
		if !declared[name] && name != "_" && types.Universe.Lookup(name) == nil {
			free = append(free, name)
		}
	}
	return free
}

// whereIs adds to the go command's output which snippet each failing
// package holds.
func whereIs(out string, snippets []snippet) string {
	var b strings.Builder
	for i, s := range snippets {
		if strings.Contains(out, fmt.Sprintf("snippet%02d", i)) {
			fmt.Fprintf(&b, "snippet%02d is %s\n", i, s.where)
		}
	}
	return b.String()
}
