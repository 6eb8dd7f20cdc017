"""Post-install check run by install.sh with the venv's python: proves that lxml and the
xmlsec binding share a libxml2, that an XML signature made with them verifies (and a
tampered copy does not), that the xmlsec1 command-line tool (used by pysaml2 and by the
Rust suite) verifies it too, and that both SAML libraries import.
Exit 0 and one line "ok ..." on success; otherwise a message and exit 1.
"""

import datetime
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print("check_env: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    try:
        from lxml import etree
        import xmlsec
    except Exception as e:  # noqa: BLE001
        fail("cannot import lxml/xmlsec: %s: %s" % (type(e).__name__, e))
    if etree.LIBXML_VERSION != xmlsec.get_libxml_version():
        fail("lxml runs libxml2 %s but xmlsec runs %s" % (etree.LIBXML_VERSION, xmlsec.get_libxml_version()))

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "check_env")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    doc = etree.fromstring(
        b'<a:Assertion xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x1"><a:Issuer>i</a:Issuer>'
        b"<a:Subject>s</a:Subject></a:Assertion>"
    )
    sig = xmlsec.template.create(doc, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    doc[0].addnext(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#_x1")
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    xmlsec.tree.add_ids(doc, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)
    ctx.sign(sig)
    signed = etree.tostring(doc)

    def verify(xml_bytes):
        d = etree.fromstring(xml_bytes)
        xmlsec.tree.add_ids(d, ["ID"])
        s = xmlsec.tree.find_node(d, xmlsec.constants.NodeSignature)
        c = xmlsec.SignatureContext()
        c.key = xmlsec.Key.from_memory(cert_pem, xmlsec.KeyFormat.CERT_PEM)
        c.verify(s)

    try:
        verify(signed)
    except Exception as e:  # noqa: BLE001
        fail("a fresh signature does not verify: %s" % e)
    tampered = signed.replace(b">s<", b">t<")
    try:
        verify(tampered)
        fail("a tampered document verified")
    except xmlsec.Error:
        pass

    with tempfile.TemporaryDirectory() as d:
        c, x = os.path.join(d, "c.pem"), os.path.join(d, "x.xml")
        with open(c, "wb") as f:
            f.write(cert_pem)
        for body, want in ((signed, 0), (tampered, 1)):
            with open(x, "wb") as f:
                f.write(body)
            r = subprocess.run(
                ["xmlsec1", "--verify", "--enabled-reference-uris", "same-doc", "--pubkey-cert-pem", c,
                 "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", x],
                capture_output=True, text=True,
            )
            if (r.returncode == 0) != (want == 0):
                fail("xmlsec1 --verify gave %d on a %s document: %s" % (
                    r.returncode, "good" if want == 0 else "tampered", r.stderr.strip()))

    try:
        import onelogin.saml2.auth  # noqa: F401
        import saml2.client  # noqa: F401
    except Exception as e:  # noqa: BLE001
        fail("cannot import the SAML libraries: %s: %s" % (type(e).__name__, e))

    print("ok lxml %s, xmlsec %s, libxml2 %s, libxmlsec1 (binding) %s" % (
        ".".join(map(str, etree.LXML_VERSION[:3])), xmlsec.__version__,
        ".".join(map(str, etree.LIBXML_VERSION)), ".".join(map(str, xmlsec.get_libxmlsec_version()))))


if __name__ == "__main__":
    main()
