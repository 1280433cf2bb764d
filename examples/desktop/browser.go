package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// openBrowser asks the operating system to open url in the default
// browser (RFC 8252 §6: the system browser, never an embedded one). It
// waits a moment for the opener to fail, as xdg-open does at once without
// a display or a browser, and not for the browser itself.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)")
		}
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // reaps it whenever it ends
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", cmd.Path, err)
		}
	case <-time.After(3 * time.Second): // still running: a browser is starting
	}
	return nil
}
