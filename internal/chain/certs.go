package chain

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity of what writeCerts makes: the CA outlives many hub
// certificates; a hub certificate lasts the 825 days TLS clients accept,
// and is renewed with the same CA (docs/chain.md, "Certificates").
const (
	caValidity  = 10 * 365 * 24 * time.Hour
	hubValidity = 825 * 24 * time.Hour
)

// writeCerts makes the chain's CA and, signed by it, the certificate of
// the hub's leaf node port for names (host names or IP addresses the
// stores dial). ECDSA P-256 keys; the keys are written 0600.
func writeCerts(dir string, names []string) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "edgesync chain CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(caValidity),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("make the CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	hub := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(hubValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			hub.IPAddresses = append(hub.IPAddresses, ip)
		} else {
			hub.DNSNames = append(hub.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, hub, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("make the hub's certificate: %w", err)
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		block *pem.Block
		mode  os.FileMode
	}{
		{CAFile, &pem.Block{Type: "CERTIFICATE", Bytes: caDER}, 0o644},
		{CAKey, &pem.Block{Type: "EC PRIVATE KEY", Bytes: caKeyDER}, 0o600},
		{HubCert, &pem.Block{Type: "CERTIFICATE", Bytes: der}, 0o644},
		{HubKey, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}, 0o600},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(f.block), f.mode); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
