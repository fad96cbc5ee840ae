"""Throwaway certificates for the TLS tests, made at test time (never committed).

Usage: tls_certs.py DIR. Writes into DIR (PEM files):
- ca.pem, ca.key              a test CA
- server.pem, server.key      a server certificate for localhost, 127.0.0.1 and ::1, signed by the CA
- chain.pem                   server.pem followed by ca.pem
- other-ca.pem                an unrelated CA (the "wrong CA" of the tests)
- other.key                   a key that belongs to no certificate here (a mismatched key)
- encrypted.key               server.key encrypted with a passphrase
Prints "ok" when done. Uses the `cryptography` package.
"""
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def key():
    return ec.generate_private_key(ec.SECP256R1())


def name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def validity(builder):
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))


def make_ca(common):
    ca_key = key()
    builder = validity(x509.CertificateBuilder().subject_name(name(common)).issuer_name(name(common))
                       .public_key(ca_key.public_key()).serial_number(x509.random_serial_number()))
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
    return ca_key, builder.sign(ca_key, hashes.SHA256())


def make_server(ca_key, ca_cert):
    server_key = key()
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
             x509.IPAddress(ipaddress.ip_address("::1"))]
    builder = validity(x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca_cert.subject)
                       .public_key(server_key.public_key()).serial_number(x509.random_serial_number()))
    builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    return server_key, builder.sign(ca_key, hashes.SHA256())


def pem_key(private_key, password=None):
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def write(directory, filename, data):
    path = os.path.join(directory, filename)
    with open(path, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    ca_key, ca_cert = make_ca("runtime test CA")
    server_key, server_cert = make_server(ca_key, ca_cert)
    _, other_ca = make_ca("unrelated test CA")
    write(directory, "ca.pem", pem_cert(ca_cert))
    write(directory, "ca.key", pem_key(ca_key))
    write(directory, "server.pem", pem_cert(server_cert))
    write(directory, "server.key", pem_key(server_key))
    write(directory, "chain.pem", pem_cert(server_cert) + pem_cert(ca_cert))
    write(directory, "other-ca.pem", pem_cert(other_ca))
    write(directory, "other.key", pem_key(key()))
    write(directory, "encrypted.key", pem_key(server_key, b"secret passphrase"))
    print("ok", flush=True)


if __name__ == "__main__":
    main()
