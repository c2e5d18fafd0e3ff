#!/usr/bin/env bash
# Remakes the test keys and their JWKS. Test-only keys: never use them
# anywhere else. Needs openssl (3.x), coreutils (basenc) and python3.
set -euo pipefail
cd "$(dirname "$0")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-other.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem
openssl genpkey -algorithm ED25519 -out ed25519.pem
b64url() { basenc --base64url -w0 | tr -d '='; }
# RSA: the modulus from its hex form, the exponent from the text form.
rsa_n() { openssl rsa -in "$1" -noout -modulus 2>/dev/null | cut -d= -f2 | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' | b64url; }
rsa_e() { openssl rsa -in "$1" -noout -text 2>/dev/null | sed -n 's/^publicExponent: \([0-9]*\).*/\1/p' | python3 -c 'import sys; e=int(sys.stdin.read()); sys.stdout.buffer.write(e.to_bytes((e.bit_length()+7)//8, "big"))' | b64url; }
# EC P-256: the DER public key ends with 04 || x (32) || y (32).
ec_point() { openssl pkey -in ec.pem -pubout -outform DER | tail -c 64; }
# Ed25519: the DER public key ends with the 32-byte key.
ed_x() { openssl pkey -in ed25519.pem -pubout -outform DER | tail -c 32 | b64url; }
cat > jwks.json <<JSON
{
  "keys": [
    {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": "$(rsa_n rsa.pem)", "e": "$(rsa_e rsa.pem)"},
    {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": "$(ec_point | head -c 32 | b64url)", "y": "$(ec_point | tail -c 32 | b64url)"},
    {"kty": "OKP", "kid": "ed-1", "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "x": "$(ed_x)"}
  ]
}
JSON
echo "wrote rsa.pem rsa-other.pem ec.pem ed25519.pem jwks.json"
