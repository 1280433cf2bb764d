//go:build unix

package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// heldLease is a lease this process holds: the open lock file whose flock
// is the lease, and the timer that ends it when its ttl runs out.
type heldLease struct {
	f     *os.File
	until time.Time
	timer *time.Timer
}

// Lease implements pkce.Store. The lease is an exclusive flock on the
// subject's lease file, taken without waiting. Locks belong to open files,
// not processes, so two owners in one process exclude each other as two
// processes do. The system drops the lock when the holding process ends,
// so a crashed holder blocks nobody. A living holder keeps the lease until
// Release or until ttl runs out, whichever comes first; a holder stopped
// by a signal (SIGSTOP) keeps it until it runs again and its timer fires.
// Re-entrance belongs to the Store value: the same owner through another
// Store on the same directory counts as another holder. The file records
// the holder's process id and expiry for people who look; no one reads
// them back.
func (s *Store) Lease(ctx context.Context, subject, owner string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("filestore: lease ttl must be positive")
	}
	done, err := s.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := leaseKey{subject, owner}
	now := time.Now()
	until := now.Add(ttl)
	// A lease of this process whose ttl has run out ends here, whether or
	// not its timer has fired yet: a busy process runs timers late.
	for hk, h := range s.leases {
		if hk.subject == subject && hk.owner != owner && !now.Before(h.until) {
			h.timer.Stop()
			delete(s.leases, hk)
			_ = h.f.Close()
		}
	}
	if h, ok := s.leases[k]; ok {
		h.until = until
		h.timer.Reset(ttl)
		writeLeaseInfo(h.f, until)
		return true, nil
	}
	f, err := s.root.OpenFile(s.file(subject, ".lease"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("filestore: lease: %w", err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("filestore: lease: %w", err)
	}
	writeLeaseInfo(f, until)
	// The subject and owner may be slices of larger strings; copies keep
	// the store from holding those alive.
	k = leaseKey{strings.Clone(subject), strings.Clone(owner)}
	h := &heldLease{f: f, until: until}
	h.timer = time.AfterFunc(ttl, func() { s.expire(k, h) })
	s.leases[k] = h
	return true, nil
}

// expire ends h when its ttl has run out, unless it was extended or
// released meanwhile.
func (s *Store) expire(k leaseKey, h *heldLease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[k] != h || time.Now().Before(h.until) {
		return
	}
	delete(s.leases, k)
	_ = h.f.Close() // closing the file drops its lock
}

// Release implements pkce.Store.
func (s *Store) Release(ctx context.Context, subject, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := leaseKey{subject, owner}
	h, ok := s.leases[k]
	if !ok {
		return nil
	}
	h.timer.Stop()
	delete(s.leases, k)
	// The lease file stays: removing a lock file while another process
	// has it open and waits to lock it would give two processes the
	// "same" lease on two different files.
	if err := h.f.Close(); err != nil {
		return fmt.Errorf("filestore: release: %w", err)
	}
	return nil
}

func writeLeaseInfo(f *os.File, until time.Time) {
	info := fmt.Sprintf("pid %d until %s\n", os.Getpid(), until.UTC().Format(time.RFC3339Nano))
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
}

// lockFile takes an exclusive flock on the file name in root, creating it if needed, and
// returns the function that drops it. It polls rather than blocks so that
// ctx can end the wait; the locks it takes are held for one read and one
// rename.
func lockFile(ctx context.Context, root *os.Root, name string) (unlock func(), err error) {
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: lock: %w", err)
	}
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("filestore: lock: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// flock applies how to f, retrying when a signal interrupts the call.
func flock(f *os.File, how int) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = raw.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// openNonblocking keeps the open of a FIFO from waiting for a writer.
const openNonblocking = syscall.O_NONBLOCK

// syncDir makes a rename or removal in root durable.
func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("filestore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("filestore: sync directory: %w", err)
	}
	return nil
}

func rename(root *os.Root, from, to string) error { return root.Rename(from, to) }

// checkOwner refuses a directory that belongs to another user, who could
// read or replace the tokens in it.
func checkOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("filestore: %s belongs to user %d, not to this process's user %d", dir, st.Uid, os.Geteuid())
	}
	return nil
}
