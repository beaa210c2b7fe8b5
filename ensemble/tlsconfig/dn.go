package tlsconfig

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// rfc2253Keywords are the attribute names X500Principal.getName() (RFC 2253 format)
// prints; every other attribute is printed as its OID with the value's DER in hex.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// SubjectID is the x509 scheme's id for a client certificate, as ZooKeeper's
// X509AuthenticationProvider.getClientId makes it:
// getSubjectX500Principal().getName(), the subject in RFC 2253 form (the last RDN
// first, no spaces after commas, keyword names only for CN, C, L, ST, O, OU,
// STREET, DC and UID, other attributes as OID=#DER-hex).
func SubjectID(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return cert.Subject.String() // unparseable: Go's rendering, still RFC 2253
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		for j, ava := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAVA(&b, ava)
		}
	}
	return b.String()
}

func writeAVA(b *strings.Builder, ava pkix.AttributeTypeAndValue) {
	oid := ava.Type.String()
	kw, known := rfc2253Keywords[oid]
	s, isString := ava.Value.(string)
	if !known || !isString {
		if known {
			b.WriteString(kw)
		} else {
			b.WriteString(oid)
		}
		b.WriteString("=#")
		der, err := asn1.Marshal(ava.Value)
		if err != nil {
			return
		}
		b.WriteString(hex.EncodeToString(der))
		return
	}
	b.WriteString(kw)
	b.WriteByte('=')
	b.WriteString(escapeRFC2253(s))
}

// escapeRFC2253 escapes a value as AVA.toRFC2253String: a backslash before , = + <
// > # ; " and \, and before a leading or trailing space.
func escapeRFC2253(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			b.WriteByte('\\')
		case r == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
