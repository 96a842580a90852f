package vault

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNoTwoKeyPurposesAreEqual(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range allLabels {
		if l == "" {
			t.Error("an empty purpose")
		}
		if seen[l] {
			t.Errorf("purpose %q is used twice", l)
		}
		seen[l] = true
	}
}

// TestEveryPurposeIsListed parses purpose.go and fails for a constant that
// allLabels forgets, so that a new purpose is always checked.
func TestEveryPurposeIsListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "purpose.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range allLabels {
		listed[l] = true
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				if !listed[s] {
					t.Errorf("purpose %q is not in allLabels", s)
				}
			}
		}
	}
}

// TestNoPurposeIsWrittenOutsideVault fails when a file of another package
// spells a purpose string itself instead of using the constant, as a copy
// would drift from the original unnoticed.
func TestNoPurposeIsWrittenOutsideVault(t *testing.T) {
	listed := map[string]bool{}
	for _, l := range allLabels {
		listed[l] = true
	}
	root := filepath.Join("..", "..")
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		if abs, _ := filepath.Abs(filepath.Dir(path)); abs == here {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, _ := strconv.Unquote(lit.Value); listed[s] {
					t.Errorf("%s spells the purpose %q; use the vault constant", path, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPurposesKeepTheirValues pins the strings: values already stored were
// made under them, so a change would make them unreadable.
func TestPurposesKeepTheirValues(t *testing.T) {
	want := []string{
		"kakunin/record-key/v1", "kakunin/index-key/v1", "kakunin/epoch-key/v1/", "kakunin/document-key/v1/", "kakunin/document/v1/",
		"kakunin/blind-index/v1", "kakunin/mac/v1",
		"member-email/v1", "member-email-index/v1", "staff-totp/v1", "upload-link/v1",
		"exposure-link/v1", "exposure-check-address/v1", "audit-exposure-address/v1",
		"audit-origin/v1", "audit-staff-email/v1", "staff-email/v1", "staff-email-index/v1",
		"portal-signin-address/v1", "audit-signin-address/v1",
		"doctor-canary/v1", "login-form/v1",
	}
	if len(want) > len(allLabels) {
		t.Fatalf("%d purposes pinned, %d listed", len(want), len(allLabels))
	}
	for i, w := range want {
		if allLabels[i] != w {
			t.Errorf("purpose %d is %q, was %q: stored values would no longer open", i, allLabels[i], w)
		}
	}
}
