package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// CheckpointOrigin is the origin (first line, and signing key name) of the
// checkpoints of installs made before issue 17; their keys keep it. New
// keys are named for their installation (Origin).
const CheckpointOrigin = "kakunin-audit"

// Origin is the checkpoint origin of one installation,
// kakunin/<host>/<install id>: C2SP checkpoints name the log they belong to,
// so that one install's checkpoints can never be taken for another's. It
// is also the signing key's name, fixed when the key is made. host is the
// public URL's host; characters a note key name may not hold become "-".
func Origin(host, installID string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '+' || r <= ' ' || r == 0x7f || r == '/' {
				return '-'
			}
			return r
		}, s)
	}
	return "kakunin/" + clean(host) + "/" + clean(installID)
}

// Checkpoint is a signed statement that the chain held Size events whose
// last chain hash was Hash, at Time.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   []byte
	Time   time.Time
	Note   string // the signed note: the text and its signature lines
}

// checkpointText is the signed text (doc.go).
func checkpointText(origin string, size int64, hash []byte, at time.Time) string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", origin, size,
		base64.StdEncoding.EncodeToString(hash), micros(at).Format("2006-01-02T15:04:05.000000Z07:00"))
}

// SignCheckpoint signs a checkpoint of the chain at size, whose hash there
// is hash. Its origin is the signing key's name.
func SignCheckpoint(s note.Signer, size int64, hash []byte, at time.Time) (Checkpoint, error) {
	text := checkpointText(s.Name(), size, hash, at)
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign audit checkpoint %d: %w", size, err)
	}
	return Checkpoint{Origin: s.Name(), Size: size, Hash: bytes.Clone(hash), Time: micros(at), Note: string(msg)}, nil
}

// OpenCheckpoint checks a signed checkpoint against the verifier keys and
// parses it. A note no known key signed gives a *note.UnverifiedNoteError;
// one whose signature fails, a *note.InvalidSignatureError.
func OpenCheckpoint(msg string, known note.Verifiers) (Checkpoint, error) {
	n, err := note.Open([]byte(msg), known)
	if err != nil {
		return Checkpoint{}, err
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	// The origin is the name of the key that signed it: a checkpoint of
	// another log, even signed by a key this one knows, is refused.
	if len(n.Sigs) == 0 || n.Sigs[0].Name != cp.Origin {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q is not the name of the key that signed it", cp.Origin)
	}
	cp.Note = msg
	return cp, nil
}

// parseCheckpointText takes exactly the four lines checkpointText writes.
func parseCheckpointText(text string) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 {
		return Checkpoint{}, fmt.Errorf("checkpoint has %d lines, want 4", len(lines))
	}
	if lines[0] != CheckpointOrigin && !strings.HasPrefix(lines[0], "kakunin/") {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q is not a kakunin audit log's", lines[0])
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 1 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a positive decimal", lines[1])
	}
	hash, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(hash) != HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint hash %q is not %d bytes of base64", lines[2], HashSize)
	}
	ts, ok := strings.CutPrefix(lines[3], "time ")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint time line %q: want \"time RFC3339\"", lines[3])
	}
	return Checkpoint{Origin: lines[0], Size: size, Hash: hash, Time: at.UTC()}, nil
}

// Signer signs checkpoints. VerifierKey is its public half, in the note
// verifier key format (name+hash+base64): what auditors need.
type Signer struct {
	note.Signer
	VerifierKey string
	// Created: LoadOrCreateSigner made this key just now. Its verifier key
	// is then shown to the operator once, to keep outside the data.
	Created bool
}

// Verifiers returns the verifier of this signer's own key.
func (s *Signer) Verifiers() (note.Verifiers, error) {
	v, err := note.NewVerifier(s.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("audit verifier key: %w", err)
	}
	return note.VerifierList(v), nil
}

// VerifierKeyFile is where LoadOrCreateSigner keeps the verifier key of the
// signer key at path.
func VerifierKeyFile(signerPath string) string { return signerPath + ".pub" }

// LoadOrCreateSigner reads the checkpoint signing key at path, creating it
// (0600, in a 0700 directory) on first use, named origin (an existing key
// keeps its name), and makes sure its verifier key
// is written beside it (VerifierKeyFile, 0644: it is public). Keep the
// directory apart from the database and its backups: whoever holds the key
// can sign a rewritten chain.
func LoadOrCreateSigner(path, origin string) (*Signer, error) {
	b, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		b, created, err = createSignerKey(path, origin)
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	skey := strings.TrimSpace(string(b))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	// The .pub may also list earlier keys (after a rotation): only a file
	// that lacks this key is rewritten.
	pub := VerifierKeyFile(path)
	if old, err := os.ReadFile(pub); err != nil || !slices.Contains(strings.Fields(string(old)), vkey) {
		if err := writeFileAtomic(pub, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("audit verifier key %s: %w", pub, err)
		}
	}
	return &Signer{Signer: s, VerifierKey: vkey, Created: created}, nil
}

// createSignerKey writes a new key without ever replacing one: two
// processes starting together both end up with the one that was linked
// into place first.
func createSignerKey(path, origin string) ([]byte, bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, false, err
	}
	tmp, err := writeTemp(path, []byte(skey+"\n"), 0o600)
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp)
	// link(2) fails if path exists, unlike rename(2).
	created := true
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		created = false
	} else if err != nil {
		return nil, false, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(path)
	return b, created, err
}

// verifierKeyOf derives the verifier key from a signer key
// (PRIVATE+KEY+name+hash+base64(0x01 || ed25519 seed)).
func verifierKeyOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return "", errors.New("malformed signer key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("signer key is not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// LoadVerifiers returns the verifiers named by keyOrFile: a verifier key
// itself (kakunin-audit+1234abcd+AQ…), or a file holding one or more, one
// per line (blank lines and lines starting with # are skipped), so that
// checkpoints signed by an earlier key still verify after a rotation.
func LoadVerifiers(keyOrFile string) (note.Verifiers, error) {
	keys, err := LoadVerifierKeys(keyOrFile)
	if err != nil {
		return nil, err
	}
	list := make([]note.Verifier, len(keys))
	for i, k := range keys {
		if list[i], err = note.NewVerifier(k); err != nil {
			return nil, err
		}
	}
	return note.VerifierList(list...), nil
}

// LoadVerifierKeys returns the verifier keys LoadVerifiers reads, as text.
func LoadVerifierKeys(keyOrFile string) ([]string, error) {
	if k := strings.TrimSpace(keyOrFile); k != "" {
		if _, err := note.NewVerifier(k); err == nil {
			return []string{k}, nil
		}
	}
	b, err := os.ReadFile(keyOrFile)
	if err != nil {
		return nil, fmt.Errorf("audit verifier key: %q is neither a key nor a readable file: %w", keyOrFile, err)
	}
	var keys []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := note.NewVerifier(line); err != nil {
			return nil, fmt.Errorf("audit verifier key %s line %d: %w", keyOrFile, i+1, err)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("audit verifier key %s: no key in the file", keyOrFile)
	}
	return keys, nil
}

// KeyID is how a verifier key is named to people: its name and key hash
// (kakunin/id.example.jp/ins_…+1a2b3c4d), without the key bytes.
func KeyID(verifierKey string) string {
	name, rest, _ := strings.Cut(verifierKey, "+")
	hash, _, _ := strings.Cut(rest, "+")
	return name + "+" + hash
}

// fileRecord is one line of a checkpoint file. Size and time repeat what
// the note says, for people and tools that read the file; Verify trusts
// only the signed note.
type fileRecord struct {
	Size int64  `json:"size"`
	Time string `json:"time"`
	Note string `json:"note"`
}

// AppendCheckpointFile appends cp to the checkpoint file at path as one JSON
// line, and fsyncs it before returning.
func AppendCheckpointFile(path string, cp Checkpoint) error {
	line, err := json.Marshal(fileRecord{Size: cp.Size, Time: cp.Time.UTC().Format(time.RFC3339Nano), Note: cp.Note})
	if err != nil {
		return fmt.Errorf("encode checkpoint %d: %w", cp.Size, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("checkpoint file: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open checkpoint file: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("append checkpoint %d to %s: %w", cp.Size, path, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A new file is durable only once its directory entry is.
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// FileNote is a signed note read from a checkpoint file, with where it was.
type FileNote struct {
	Line int
	Note string
}

// ReadCheckpointFile returns the notes of a checkpoint file written by
// AppendCheckpointFile. It does not check them: OpenCheckpoint does.
func ReadCheckpointFile(path string) ([]FileNote, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint file: %w", err)
	}
	defer f.Close()
	return readCheckpoints(f, path)
}

func readCheckpoints(r io.Reader, name string) ([]FileNote, error) {
	var out []FileNote
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec fileRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.Note == "" {
			return nil, fmt.Errorf("checkpoint file %s line %d: not a {\"size\", \"time\", \"note\"} JSON object", name, n)
		}
		out = append(out, FileNote{Line: n, Note: rec.Note})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint file %s: %w", name, err)
	}
	return out, nil
}

func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	_, werr := f.Write(data)
	cherr := f.Chmod(perm)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, cherr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
