package servercheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pkcekit/pkce/pkcetest"
	"github.com/pkcekit/pkce/servercheck"
)

// The report's three forms say the same thing as the report, and none of
// them carries a client secret.
func TestReportWriters(t *testing.T) {
	srv, cfg := newTarget(t, nil)
	srv.SetFaults(pkcetest.Faults{ReusableCodes: true, OmitNoStore: true})
	rep, err := servercheck.Check(context.Background(), cfg)
	require.NoError(t, err)
	failed := outcomes(rep, servercheck.Fail)
	require.NotEmpty(t, failed, "the faults break rules")
	secrets := []string{"basic-secret-1234", "post-secret-5678"}

	t.Run("JSON decodes to the report", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, rep.WriteJSON(&b))
		var back servercheck.Report
		require.NoError(t, json.Unmarshal(b.Bytes(), &back))
		assert.Equal(t, *rep, back)
		for _, s := range secrets {
			assert.NotContains(t, b.String(), s)
		}
	})
	t.Run("JUnit has one case per check, failures and skips counted", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, rep.WriteJUnit(&b))
		var suite struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		}
		require.NoError(t, xml.Unmarshal(b.Bytes(), &suite))
		assert.Equal(t, len(rep.Results), suite.Tests)
		assert.Len(t, suite.Cases, len(rep.Results))
		assert.Equal(t, len(failed), suite.Failures)
		assert.Equal(t, len(outcomes(rep, servercheck.NotApplicable)), suite.Skipped)
		var gotFailed []string
		for _, c := range suite.Cases {
			if c.Failure != nil {
				gotFailed = append(gotFailed, c.Name)
			}
		}
		assert.Equal(t, failed, gotFailed)
		for _, s := range secrets {
			assert.NotContains(t, b.String(), s)
		}
	})
	t.Run("the table names every failed check", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, rep.WriteTable(&b))
		for _, name := range failed {
			assert.Contains(t, b.String(), name)
		}
		for _, s := range secrets {
			assert.NotContains(t, b.String(), s)
		}
	})
}
