// Package filestore is a pkce.Store kept in files of one directory, for
// command-line tools and desktop apps of which several invocations may run
// at once on one machine: they share sign-ins, and one of them refreshes a
// token while the others wait for the result.
//
// It serves desktop apps and CLIs; their guide is
// https://github.com/pkcekit/pkce/blob/main/docs/desktop-and-cli.md.
//
// Every subject has its own files, named from the subject in hex (or from
// its SHA-256 when long) so that any subject is safe as a file name, even
// on case-insensitive file systems. Files are written to a temporary file,
// synced and renamed over the old one, so a reader sees the old token or
// the new one, never part of either. Tokens are secrets: the directory is
// private to the user (0700) and files are 0600. The directory is opened
// once, when it is checked, and every file is reached through that open
// directory (an os.Root): a component of the path that another user
// swaps for a symlink afterwards does not move the store.
//
// On Unix the refresh lease is an OS file lock (flock) held by this
// process: the system releases it the moment the process ends, however it
// ends, so a crashed refresher blocks nobody. The lease also ends when its
// ttl runs out, as the pkce.Store contract asks. On Windows, where the
// standard library has no file locks, the lease is a file that names its
// owner and expiry, and a crashed holder blocks others until its ttl runs
// out.
package filestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxPlainName is the longest subject named in plain hex: file names
	// have at most 255 bytes on common file systems.
	maxPlainName = 100
	// maxOpen bounds the files the store has open at once, so that a
	// burst of calls cannot exhaust the process's descriptors.
	maxOpen = 32
	// sweepEvery is how often Claim looks for expired claim files.
	sweepEvery = time.Minute
	// staleTemp is the age after which a temporary file left by a crash
	// is removed; a live writer holds one for milliseconds.
	staleTemp = time.Hour
	// maxTokenFile bounds what a token read takes into memory: a stored
	// token (access, refresh and ID token with their members) is a few
	// kilobytes, and a file planted in its place may be endless.
	maxTokenFile = 1 << 20
)

// A Store is a pkce.Store kept in one directory. It is safe for concurrent
// use by goroutines and by processes.
type Store struct {
	dir  string        // the path given to New, for messages only
	root *os.Root      // the directory New checked; every file is opened through it
	open chan struct{} // a token per file the store may hold open

	mu        sync.Mutex
	lastSweep time.Time
	leases    map[leaseKey]*heldLease // unix only: the locks this process holds
}

type leaseKey struct{ subject, owner string }

// New returns a Store in dir, creating the directory (mode 0700) if it
// does not exist. An existing directory that other users could read or
// enter (any group or other permission bit) is refused rather than
// fixed: the caller may have named a directory that others rely on, and
// a token that was readable there is no longer a secret. On Unix a
// directory owned by another user is refused too.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("filestore: no directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	// The checks below are made on the open directory, not on its path,
	// so the directory checked is the one used even if the path is
	// changed to name another one meanwhile.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	fi, err := root.Stat(".")
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("filestore: %s is not a directory", dir)
	}
	if err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		err = fmt.Errorf("filestore: %s has mode %v, open to group or others; tokens need a private directory (chmod 700)", dir, fi.Mode().Perm())
	}
	if err == nil {
		err = checkOwner(dir, fi)
	}
	if err != nil {
		_ = root.Close()
		if !strings.HasPrefix(err.Error(), "filestore: ") {
			err = fmt.Errorf("filestore: %w", err)
		}
		return nil, err
	}
	return &Store{dir: dir, root: root, open: make(chan struct{}, maxOpen), leases: make(map[leaseKey]*heldLease)}, nil
}

// name returns the file name stem for a subject or claim key. Hex keeps
// distinct subjects distinct on file systems that ignore case; the
// prefixes keep plain names apart from digests.
func name(s string) string {
	if len(s) <= maxPlainName {
		return "x" + hex.EncodeToString([]byte(s))
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:])
}

// file returns the name, within the store's directory, of subject's file
// with suffix.
func (s *Store) file(subject, suffix string) string {
	return name(subject) + suffix
}

// acquire takes one of the store's open-file tokens.
func (s *Store) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.open <- struct{}{}:
		return func() { <-s.open }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// LoadToken implements pkce.Store.
func (s *Store) LoadToken(ctx context.Context, subject string) ([]byte, error) {
	done, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	tok, _, err := s.readToken(ctx, subject)
	return tok, err
}

// readToken reads subject's token and reports whether there was one.
func (s *Store) readToken(ctx context.Context, subject string) ([]byte, bool, error) {
	tok, err := s.readFile(ctx, s.file(subject, ".token"), maxTokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("filestore: read token: %w", err)
	}
	return tok, true, nil
}

// readFile reads the regular file name of at most limit bytes. Anything
// else in its place is refused before it is read: a FIFO would block the
// reader until someone writes to it, a device may never end. The file is
// opened without blocking, and checked again once open, in case it was
// replaced between the two looks.
func (s *Store) readFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := s.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if err := regular(fi, limit); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(name, os.O_RDONLY|openNonblocking, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("the file is larger than %d bytes", limit)
	}
	// The read of a small regular file is not interruptible and is short;
	// a caller that gave up meanwhile gets its context's error.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return data, nil
}

// regular refuses what is not a regular file of at most limit bytes.
func regular(fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("the file is not a regular file (mode %v)", fi.Mode())
	}
	if fi.Size() > limit {
		return fmt.Errorf("the file is larger than %d bytes", limit)
	}
	return nil
}

// SaveToken implements pkce.Store. Saves and deletes of a subject hold
// its lock file for the read, compare and rename, so a compare-and-set
// cannot interleave with any other write.
func (s *Store) SaveToken(ctx context.Context, subject string, old, token []byte) (bool, error) {
	done, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	unlock, err := lockFile(ctx, s.root, s.file(subject, ".lock"))
	if err != nil {
		return false, err
	}
	defer unlock()
	if old != nil {
		cur, ok, err := s.readToken(ctx, subject)
		if err != nil {
			return false, err
		}
		if !ok || !bytes.Equal(cur, old) {
			return false, nil
		}
	}
	if err := s.writeFile(s.file(subject, ".token"), token); err != nil {
		return false, fmt.Errorf("filestore: save token: %w", err)
	}
	return true, nil
}

// DeleteToken implements pkce.Store.
func (s *Store) DeleteToken(ctx context.Context, subject string) error {
	done, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer done()
	unlock, err := lockFile(ctx, s.root, s.file(subject, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	err = s.root.Remove(s.file(subject, ".token"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: delete token: %w", err)
	}
	return syncDir(s.root)
}

// writeFile replaces the file name with data: written to a temporary
// file, synced, renamed over name, and the rename synced, so that a crash
// leaves the old file or the new one and a reader never sees a torn token.
func (s *Store) writeFile(name string, data []byte) (err error) {
	f, tmp, err := s.createTemp()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = s.root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = rename(s.root, tmp, name); err != nil {
		return err
	}
	return syncDir(s.root)
}

// createTemp creates a new file of mode 0600 named .tmp-<random> in the
// store's directory, as os.CreateTemp would outside an os.Root.
func (s *Store) createTemp() (*os.File, string, error) {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		tmp := ".tmp-" + hex.EncodeToString(b[:])
		f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
}

// Claim implements pkce.Store. A claim is a file created with O_EXCL that
// holds its expiry; only one creator can succeed. An expired claim file is
// replaced under the directory's claims lock, so that two processes that
// both find it expired cannot both win.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("filestore: claim ttl must be positive")
	}
	done, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	defer s.sweepSometimes(ctx)
	path := s.file(key, ".claim")
	now := time.Now()
	ok, err := createClaim(s.root, path, now.Add(ttl))
	if ok || err != nil {
		return ok, err
	}
	unlock, err := lockFile(ctx, s.root, "claims.lock")
	if err != nil {
		return false, err
	}
	defer unlock()
	if !s.claimExpired(ctx, path, now, ttl) {
		return false, nil
	}
	if err := s.root.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("filestore: claim: %w", err)
	}
	return createClaim(s.root, path, now.Add(ttl))
}

// createClaim creates the claim file and reports whether it was absent.
func createClaim(root *os.Root, path string, until time.Time) (bool, error) {
	f, err := root.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("filestore: claim: %w", err)
	}
	// Fixed width and a final newline: a reader that catches the file
	// half-written cannot mistake the start of a number for an expiry.
	// The claim is won once the file exists; if writing its expiry fails,
	// its modification time still bounds it (see claimExpired), and
	// reporting an error would let the caller try again and win twice.
	_, _ = fmt.Fprintf(f, "%020d\n", until.UnixNano())
	_ = f.Sync()
	_ = f.Close()
	return true, nil
}

// claimExpired reports whether the claim at path has expired at now. A
// file whose expiry cannot be read (its writer crashed half-way) counts as
// written at its modification time with the caller's ttl.
func (s *Store) claimExpired(ctx context.Context, path string, now time.Time, ttl time.Duration) bool {
	data, err := s.readFile(ctx, path, 64)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err == nil && len(data) == 21 && data[20] == '\n' {
		if ns, err := strconv.ParseInt(string(data[:20]), 10, 64); err == nil {
			return !now.Before(time.Unix(0, ns))
		}
	}
	fi, err := s.root.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	return err == nil && !now.Before(fi.ModTime().Add(ttl))
}

// sweepSometimes removes expired claims and stale temporary files, at most
// once per sweepEvery in this process. Failures are left for next time.
func (s *Store) sweepSometimes(ctx context.Context) {
	now := time.Now()
	s.mu.Lock()
	due := now.Sub(s.lastSweep) >= sweepEvery
	if due {
		s.lastSweep = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	d, err := s.root.Open(".")
	if err != nil {
		return
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return
	}
	unlock, err := lockFile(ctx, s.root, "claims.lock")
	if err != nil {
		return
	}
	defer unlock()
	for _, e := range entries {
		path := e.Name()
		switch {
		case strings.HasSuffix(e.Name(), ".claim"):
			// A claim without a readable expiry is kept for a flow
			// lifetime at most; ten minutes is the package default.
			if s.claimExpired(ctx, path, now, 10*time.Minute) {
				_ = s.root.Remove(path)
			}
		case strings.HasPrefix(e.Name(), ".tmp-"):
			// Lstat through the root: DirEntry.Info would look the
			// name up by the directory's path.
			if fi, err := s.root.Lstat(path); err == nil && now.Sub(fi.ModTime()) > staleTemp {
				_ = s.root.Remove(path)
			}
		}
	}
}
