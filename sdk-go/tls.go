package corral

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// NewTLSConfig builds the Config.TLS of a client from PEM files: caFile holds the CA
// certificates that verify the members ("" for the system's trusted roots); certFile
// and keyFile ("" for none) are the client's certificate and key for mTLS, whose CN
// a server started with --tls-client-ca takes as the user name. Set ServerName on
// the result when the members' certificates name another host than the endpoints.
// Errors name the file and what is wrong with it.
func NewTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	read := func(what, name string) ([]byte, error) {
		if name == "" {
			return nil, nil
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("corral: TLS %s file: %w", what, err)
		}
		return b, nil
	}
	ca, err := read("CA", caFile)
	if err != nil {
		return nil, err
	}
	cert, err := read("certificate", certFile)
	if err != nil {
		return nil, err
	}
	key, err := read("key", keyFile)
	if err != nil {
		return nil, err
	}
	cfg, err := NewTLSConfigPEM(ca, cert, key)
	if err != nil {
		return nil, fmt.Errorf("%w (files: CA %q, certificate %q, key %q)", err, caFile, certFile, keyFile)
	}
	return cfg, nil
}

// NewTLSConfigPEM is NewTLSConfig with the PEM contents instead of file names (nil
// for what is not given).
func NewTLSConfigPEM(ca, cert, key []byte) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("corral: TLS CA: no PEM certificate in it")
		}
		cfg.RootCAs = pool
	}
	if (cert == nil) != (key == nil) {
		return nil, fmt.Errorf("corral: TLS: a client certificate needs its key and the other way round")
	}
	if cert != nil {
		if b, _ := pem.Decode(key); b == nil {
			return nil, fmt.Errorf("corral: TLS key: no PEM block in it")
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("corral: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
