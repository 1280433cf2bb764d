//go:build windows

package filestore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// The standard library has no file locks on Windows, so this fallback
// uses files created with O_EXCL as locks and keeps leases as files that
// name their owner and expiry. A lock file older than staleLock was left
// by a crashed process and is taken over; a lease file ends at its expiry.
// It is compiled (GOOS=windows go vet) but, unlike the Unix code, not
// exercised by the tests.

// staleLock bounds how long a lock file may exist; a live holder keeps
// one for a read and a rename.
const staleLock = 10 * time.Second

type heldLease struct{}

// Lease implements pkce.Store: under the subject's lock, the lease file is
// (re)written when it is absent, expired or already owner's.
func (s *Store) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("filestore: lease ttl must be positive")
	}
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
	path := s.file(subject, ".lease")
	holder, until, err := s.readLease(ctx, path)
	if err != nil {
		return false, err
	}
	now := time.Now()
	if holder != "" && holder != owner && now.Before(until) {
		return false, nil
	}
	info := fmt.Sprintf("%020d %s\n", now.Add(ttl).UnixNano(), hex.EncodeToString([]byte(owner)))
	if err := s.writeFile(path, []byte(info)); err != nil {
		return false, fmt.Errorf("filestore: lease: %w", err)
	}
	return true, nil
}

// Release implements pkce.Store.
func (s *Store) Release(ctx context.Context, subject, owner string) error {
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
	path := s.file(subject, ".lease")
	holder, _, err := s.readLease(ctx, path)
	if err != nil || holder != owner {
		return err
	}
	if err := s.root.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: release: %w", err)
	}
	return nil
}

// readLease returns the holder and expiry in a lease file; an absent or
// unreadable file holds no lease.
func (s *Store) readLease(ctx context.Context, path string) (holder string, until time.Time, err error) {
	data, err := s.readFile(ctx, path, 1024)
	if errors.Is(err, fs.ErrNotExist) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("filestore: lease: %w", err)
	}
	ns, owner, ok := strings.Cut(strings.TrimSuffix(string(data), "\n"), " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	b, herr := hex.DecodeString(owner)
	if !ok || err != nil || herr != nil {
		return "", time.Time{}, nil
	}
	return string(b), time.Unix(0, n), nil
}

// lockFile takes the lock name in root by creating it exclusively, polling until
// it can or ctx ends, and returns the function that removes it.
func lockFile(ctx context.Context, root *os.Root, path string) (unlock func(), err error) {
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		f, err := root.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_ = f.Close()
			return func() { _ = root.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("filestore: lock: %w", err)
		}
		if fi, err := root.Lstat(path); err == nil && time.Since(fi.ModTime()) > staleLock {
			_ = root.Remove(path)
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// rename replaces to with from, retrying for a while: Windows refuses to
// replace a file that another process is reading at that moment.
func rename(root *os.Root, from, to string) error {
	var err error
	for range 50 {
		if err = root.Rename(from, to); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// syncDir does nothing: Windows cannot sync a directory, and its renames
// are journaled by NTFS.
func syncDir(*os.Root) error { return nil }

// openNonblocking is nothing: a Windows named pipe cannot stand in the
// store's directory, and readFile refuses what is not a regular file.
const openNonblocking = 0

func checkOwner(string, fs.FileInfo) error { return nil }
