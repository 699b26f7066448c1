package corral_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

// testCA is a CA made for a test, issuing server and client certificates into dir.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate's PEM file.
	File string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key}
	ca.File = ca.write(name+".pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, kind string, der []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// issue makes a certificate for cn (a server's, for 127.0.0.1 and localhost, or a
// client's) and returns its certificate and key files.
func (ca *testCA) issue(cn string, server bool) (certFile, keyFile string) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return ca.write(cn+".pem", "CERTIFICATE", der), ca.write(cn+"-key.pem", "PRIVATE KEY", keyDER)
}

// startTLS starts a member with TLS on its client port requiring client certificates
// of ca; the test is skipped when the server binary has no TLS flags yet.
func startTLS(t *testing.T, ca *testCA, args ...string) *testcluster.Cluster {
	t.Helper()
	cert, key := ca.issue("server", true)
	probeCert, probeKey := ca.issue("readiness-probe", false)
	probe, err := corral.NewTLSConfig(ca.File, probeCert, probeKey)
	if err != nil {
		t.Fatal(err)
	}
	return testcluster.StartWith(t, 1, testcluster.Options{
		Args:             append([]string{"--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca.File}, args...),
		HTTPTLS:          probe,
		SkipUnknownFlags: true,
	})
}

func tlsClient(t *testing.T, cl *testcluster.Cluster, cfg *tls.Config, user, password string) (*corral.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := corral.New(ctx, corral.Config{Endpoints: cl.Endpoints(), TLS: cfg, Username: user, Password: password, DialTimeout: 2 * time.Second})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestTLSAndMutualTLS(t *testing.T) {
	ca := newTestCA(t, "corral-test-ca")
	cl := startTLS(t, ca)
	ctx := testCtx(t)
	certFile, keyFile := ca.issue("tls-client", false)

	cfg, err := corral.NewTLSConfig(ca.File, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsClient(t, cl, cfg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/tls", []byte("over tls"), corral.WithCreateIfMissing()); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Get(ctx, "/tls"); err != nil || string(r.Node.Data) != "over tls" {
		t.Fatalf("get over TLS: %+v %v", r, err)
	}

	// Refused: plaintext, no client certificate, a server certificate from another CA,
	// a server name the certificate does not carry.
	noCert, err := corral.NewTLSConfig(ca.File, "", "")
	if err != nil {
		t.Fatal(err)
	}
	otherCA := newTestCA(t, "other-ca")
	wrongCA, err := corral.NewTLSConfig(otherCA.File, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	wrongName, _ := corral.NewTLSConfig(ca.File, certFile, keyFile)
	wrongName.ServerName = "db.example"
	for name, cfg := range map[string]*tls.Config{"plaintext": nil, "no client certificate": noCert, "another CA": wrongCA, "wrong server name": wrongName} {
		c, err := tlsClient(t, cl, cfg, "", "")
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = c.Get(cctx, "/tls")
			cancel()
		}
		if err == nil {
			t.Errorf("%s: served", name)
		}
	}
	rightName, _ := corral.NewTLSConfig(ca.File, certFile, keyFile)
	rightName.ServerName = "localhost"
	if c, err := tlsClient(t, cl, rightName, "", ""); err != nil {
		t.Fatalf("server name localhost: %v", err)
	} else if _, err := c.Get(ctx, "/tls"); err != nil {
		t.Fatalf("server name localhost: %v", err)
	}
}

// With mTLS the certificate's CN is the user; a token, when sent, wins over it.
func TestClientCertificateNamesTheUser(t *testing.T) {
	ca := newTestCA(t, "corral-test-ca")
	cl := startTLS(t, ca)
	ctx := testCtx(t)
	configFor := func(cn string) *tls.Config {
		cert, key := ca.issue(cn, false)
		cfg, err := corral.NewTLSConfig(ca.File, cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	root, err := tlsClient(t, cl, configFor("root"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	carol, err := tlsClient(t, cl, configFor("carol"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"root", "carol"} {
		if err := root.Auth().UserAdd(ctx, u, u+"-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if err := root.Auth().Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := carol.Auth().Status(ctx); err != nil || st.User != "carol" {
		t.Fatalf("carol by certificate: %+v %v", st, err)
	}
	var denied *corral.PermissionDeniedError
	if _, err := carol.Auth().UserList(ctx); !errors.As(err, &denied) || denied.User != "carol" {
		t.Fatalf("carol lists users: %v", err)
	}
	carolByToken, err := tlsClient(t, cl, configFor("root"), "carol", "carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := carolByToken.Auth().Status(ctx); err != nil || st.User != "carol" {
		t.Fatalf("token over a root certificate: %+v %v", st, err)
	}
}

func TestNewTLSConfigNamesWhatIsWrong(t *testing.T) {
	ca := newTestCA(t, "ca")
	cert, key := ca.issue("c", false)
	cfg, err := corral.NewTLSConfig(ca.File, cert, key)
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("config: %+v %v", cfg, err)
	}
	if cfg, err := corral.NewTLSConfig("", "", ""); err != nil || cfg.RootCAs != nil || cfg.Certificates != nil {
		t.Fatalf("system roots: %+v %v", cfg, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := corral.NewTLSConfig(missing, "", ""); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing CA file: %v", err)
	}
	if _, err := corral.NewTLSConfig(key, "", ""); err == nil || !strings.Contains(err.Error(), "CA") {
		t.Fatalf("a key as the CA: %v", err)
	}
	if _, err := corral.NewTLSConfig(ca.File, cert, ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	otherCert, _ := ca.issue("other", false)
	if _, err := corral.NewTLSConfig(ca.File, otherCert, key); err == nil || !strings.Contains(err.Error(), otherCert) {
		t.Fatalf("a key that does not match: %v", err)
	}
}
