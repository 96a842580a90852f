package kakunin_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The documentation is read by someone who cloned the repository and has
// nothing else: every Markdown file may point only at files that exist in
// the repository, never outside it (as a link, a relative path in the
// text, or a repository path in backticks).
func TestTheDocsPointOnlyAtFilesInTheRepository(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"README.md", "docs/design.md", "docs/incident.md"} {
		if !slices.Contains(files, must) {
			t.Errorf("%s is missing", must)
		}
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.FromSlash(p)); return err == nil }
	top := topLevelDirs(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range docLinkProblems(f, string(b), top, exists) {
			t.Errorf("%s: %s", f, p)
		}
	}
}

// The checker itself, on a made-up page: each kind of bad pointer is
// named, and good ones are not.
func TestTheDocLinkCheckerNamesEachBadPointer(t *testing.T) {
	page := "See `../shared/DESIGN.md` and ../shared/INCIDENT.md.\n" +
		"[design](docs/design.md), [gone](docs/gone.md), [up](../../etc/passwd), [root](/etc/hosts),\n" +
		"[web](https://example.com/x), [anchor](#top), [frag](docs/design.md#the-nine-invariants).\n" +
		"Code: `internal/vault/doc.go`, `internal/vault/nothing.go`, `./data/kakunin.db`, `DATA/keys/master.json`,\n" +
		"`internal/store/migrations/{sqlite,postgres}/NNNNN_name.sql`, `go test ./internal/...`.\n" +
		"```\nignored ../in/a/fence\n```\n"
	have := map[string]bool{"docs/design.md": true, "internal/vault/doc.go": true}
	got := docLinkProblems("README.md", page, []string{"docs", "internal"}, func(p string) bool { return have[p] })
	want := []string{
		`"../shared/DESIGN.md" is outside the repository`,
		`"../shared/INCIDENT.md" is outside the repository`,
		`"docs/gone.md" does not exist`,
		`"../../etc/passwd" is outside the repository`,
		`"/etc/hosts" is an absolute path`,
		`"internal/vault/nothing.go" does not exist`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// In docs/, ../ climbs to the repository root and no further.
	if got := docLinkProblems("docs/design.md", "[v](../internal/vault/doc.go) [x](../../x)", nil, func(p string) bool { return have[p] }); len(got) != 1 ||
		got[0] != `"../../x" is outside the repository` {
		t.Errorf("from docs/: %v", got)
	}
}

var (
	fence      = regexp.MustCompile("(?ms)^```.*?^```")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)`)
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	parentPath = regexp.MustCompile("(?:^|[\\s(`\"'])(\\.\\./[^\\s)`\"'<>]*)")
)

// docLinkProblems lists what in content (the Markdown file file, a path
// from the repository root) points outside the repository or at a missing
// file: links, ../ paths anywhere in the text, and backticked paths that
// start with one of the repository's top-level directories.
func docLinkProblems(file, content string, topDirs []string, exists func(string) bool) []string {
	content = fence.ReplaceAllString(content, "")
	dir := path.Dir(file)
	seen := map[string]bool{}
	var problems []string
	report := func(format, target string) {
		p := strings.Replace(format, "%q", `"`+target+`"`, 1)
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	// check resolves target against base (the file's directory or the root).
	check := func(base, target string) {
		target, _, _ = strings.Cut(target, "#")
		if target == "" {
			return
		}
		if strings.HasPrefix(target, "/") {
			report("%q is an absolute path", target)
			return
		}
		p := path.Clean(path.Join(base, target))
		if p == ".." || strings.HasPrefix(p, "../") {
			report("%q is outside the repository", target)
			return
		}
		if !exists(strings.TrimSuffix(p, "/")) {
			report("%q does not exist", target)
		}
	}
	for _, m := range mdLink.FindAllStringSubmatch(content, -1) {
		target := m[1] + m[2]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
			continue
		}
		check(dir, target)
	}
	for _, m := range parentPath.FindAllStringSubmatch(content, -1) {
		check(dir, strings.TrimRight(m[1], ".,;:"))
	}
	for _, m := range codeSpan.FindAllStringSubmatch(content, -1) {
		span := strings.TrimPrefix(m[1], "./")
		first, _, ok := strings.Cut(span, "/")
		if !ok || strings.ContainsAny(span, " <>{}*$|") || !slices.Contains(topDirs, first) {
			continue
		}
		check(".", strings.TrimSuffix(span, "..."))
	}
	return problems
}

// topLevelDirs are the repository's top-level directories: a backticked
// path starting with one of them names a file of the repository.
func topLevelDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}
