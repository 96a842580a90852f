package catalogue_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/catalogue"
)

// root is the module's root, from this package's directory.
const root = "../.."

// idShape is what a message ID looks like: dotted lower-case words.
var idShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// messageCalls are the functions that take a message ID as a literal
// argument: catalogue.M, a Renderer's T, Catalogue.Raw, and the small
// closures the mail writers wrap them in.
var messageCalls = map[string]bool{"M": true, "T": true, "Raw": true, "say": true, "line": true, "raw": true}

type use struct{ id, where string }

// goUses finds the message IDs written as literals in the module's Go code
// (tests aside): every literal handed to a message call or set as a
// Message's ID, and every other literal shaped like an ID of a family the
// catalogue has (its first two words are those of a message), such as a
// code constant.
func goUses(t *testing.T, families map[string]bool) []use {
	t.Helper()
	var uses []use
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		lit := func(e ast.Expr) (string, bool) {
			b, ok := e.(*ast.BasicLit)
			if !ok || b.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(b.Value)
			return s, err == nil
		}
		add := func(s string, at token.Pos) { uses = append(uses, use{s, fset.Position(at).String()}) }
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := ""
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if !messageCalls[name] {
					return true
				}
				for _, a := range n.Args {
					if s, ok := lit(a); ok && idShape.MatchString(s) {
						add(s, a.Pos())
						break // the ID comes first; later literals are arguments
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "ID" {
					if s, ok := lit(n.Value); ok && idShape.MatchString(s) && families[family(s)] {
						add(s, n.Value.Pos())
					}
				}
			case *ast.BasicLit:
				if s, ok := lit(n); ok && idShape.MatchString(s) && families[family(s)] {
					add(s, n.Pos())
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

// family is an ID's first two words.
func family(id string) string {
	parts := strings.SplitN(id, ".", 3)
	if len(parts) < 2 {
		return id
	}
	return parts[0] + "." + parts[1]
}

var literalT = regexp.MustCompile(`\bt\s+"([^"]+)"`)

// templateUses finds {{t "id"}} in every page template.
func templateUses(t *testing.T) []use {
	t.Helper()
	var uses []use
	dir := filepath.Join(root, "internal", "web", "pages", "templates")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literalT.FindAllStringSubmatch(string(src), -1) {
			uses = append(uses, use{m[1], e.Name()})
		}
	}
	return uses
}

func TestEveryMessageUsedInCodeAndTemplatesIsInEveryLanguage(t *testing.T) {
	cat := catalogue.Default()
	families := map[string]bool{}
	for _, id := range cat.IDs() {
		families[family(id)] = true
	}
	// Audit actions are codes, not messages, though some share a family
	// with one ("incident.reported"); each is named by "audit.action.<code>",
	// which the audit package tests.
	var uses []use
	for _, u := range append(goUses(t, families), templateUses(t)...) {
		if !slices.Contains(audit.Actions, u.id) {
			uses = append(uses, u)
		}
	}
	if len(uses) < 300 {
		t.Fatalf("only %d message uses found: the walk is broken", len(uses))
	}
	seen := map[string]bool{}
	for _, u := range uses {
		seen[u.id] = true
		for _, lang := range cat.Languages() {
			if !cat.Has(lang, u.id) {
				t.Errorf("%s: message %q is not in the %s catalogue", u.where, u.id, lang)
			}
		}
	}
	// The walk must see the families this issue moved into the catalogue.
	for _, want := range []string{"deadline.verdict.required", "incident.timeline.opened", "exposure.mail.subject",
		"alert.mail.intro", "massmail.letter.body", "massmail.error.parse", "nav.skip"} {
		if !seen[want] {
			t.Errorf("the walk did not find %s", want)
		}
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range seen {
			if !yield(id) {
				return
			}
		}
	})
	t.Logf("%d uses of %d distinct messages", len(uses), len(ids))
}
