#!/usr/bin/env python3
"""SAML SP driven by OneLogin python3-saml (onelogin.saml2), strict mode.

Usage and output: see peer_common.py (the contract is shared by all drivers).
Run with tests/peers/.venv/bin/python.
"""

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# First, so that a library that fails to import exits as a crash (3), not as a refusal (1).
import peer_common as pc  # noqa: E402

import binascii  # noqa: E402

from defusedxml import DefusedXmlException  # noqa: E402
from lxml.etree import XMLSyntaxError  # noqa: E402
from onelogin.saml2.auth import OneLogin_Saml2_Auth  # noqa: E402
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C  # noqa: E402
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser  # noqa: E402
from onelogin.saml2.settings import OneLogin_Saml2_Settings  # noqa: E402
from onelogin.saml2.utils import OneLogin_Saml2_Utils  # noqa: E402
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError  # noqa: E402
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML  # noqa: E402

# What python3-saml raises to refuse a Response (its own errors, and its parser's on malformed or
# DTD-carrying input). Anything else out of process_response (TypeError, KeyError, ...) is a
# crash of the library or the driver, never a refusal.
REFUSALS = (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError, XMLSyntaxError, DefusedXmlException,
            binascii.Error)


def settings_dict(cfg, name_id_format=None):
    sp_cert = pc.read_text(cfg["sp_cert_file"])
    sp_key = pc.read_text(cfg["sp_key_file"])
    if cfg.get("idp_entity_id") and cfg.get("idp_sso_url") and cfg.get("idp_cert_pem_file"):
        idp = {
            "entityId": cfg["idp_entity_id"],
            "singleSignOnService": {"url": cfg["idp_sso_url"], "binding": C.BINDING_HTTP_REDIRECT},
            "x509cert": pc.pem_body(pc.read_text(cfg["idp_cert_pem_file"])),
        }
    else:
        # The library's own metadata parser (first IdPSSODescriptor, Redirect SSO, signing certs).
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            pc.read_text(cfg["idp_metadata_file"]), required_sso_binding=C.BINDING_HTTP_REDIRECT
        )
        idp = parsed["idp"]
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": cfg["entity_id"],
            "assertionConsumerService": {"url": cfg["acs_url"], "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": name_id_format or C.NAMEID_UNSPECIFIED,
            "x509cert": sp_cert,
            "privateKey": sp_key,
        },
        "idp": idp,
        "security": {
            "authnRequestsSigned": bool(cfg["authn_requests_signed"]),
            "logoutRequestSigned": False,
            "logoutResponseSigned": False,
            "signMetadata": False,
            "wantMessagesSigned": False,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": bool(cfg.get("want_assertions_encrypted", False)),
            "wantNameId": True,
            "wantNameIdEncrypted": False,
            "wantAttributeStatement": True,
            # Do not ask for PasswordProtectedTransport (the library's default): the IdP picks the LoA.
            "requestedAuthnContext": False,
            "failOnAuthnContextMismatch": False,
            "allowSingleLabelDomains": False,
            "allowRepeatAttributeName": False,
            "rejectUnsolicitedResponsesWithInResponseTo": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
    }


def make_settings(cfg, name_id_format=None):
    return OneLogin_Saml2_Settings(settings_dict(cfg, name_id_format), sp_validation_only=False)


def cmd_metadata(args, cfg):
    settings = make_settings(cfg)
    md = settings.get_sp_metadata()
    errors = settings.validate_metadata(md)
    if errors:
        raise ValueError("python3-saml rejected its own metadata: %s" % errors)
    return md.decode("utf-8") if isinstance(md, bytes) else md


def cmd_authn(args, cfg):
    fmt = pc.NAMEID_FORMATS.get(args.name_id_format) if args.name_id_format else None
    settings = make_settings(cfg, fmt)
    request_data = pc.acs_request_data(cfg["acs_url"], {})
    auth = OneLogin_Saml2_Auth(request_data, settings)
    security = settings.get_security_data()
    signed = bool(security["authnRequestsSigned"])
    # What OneLogin_Saml2_Auth.login() does, except that RelayState is left out when none is
    # given (login() would put the current URL there).
    req = auth.authn_request_class(settings, args.force_authn, args.is_passive, True, None)
    out = {"request_id": req.get_id(), "binding": args.binding, "signed": signed}
    if args.binding == "redirect":
        params = {"SAMLRequest": req.get_request(deflate=True)}
        if args.relay_state is not None:
            params["RelayState"] = args.relay_state
        if signed:
            auth.add_request_signature(params, security["signatureAlgorithm"])
        out["url"] = auth.redirect_to(auth.get_sso_url(), params)
    else:
        xml = req.get_xml()
        if signed:
            # The library's enveloped-signature helper (exc-c14n, rsa-sha256, sha256, X509 KeyInfo).
            xml = OneLogin_Saml2_Utils.add_sign(
                xml,
                settings.get_sp_key(),
                settings.get_sp_cert(),
                sign_algorithm=security["signatureAlgorithm"],
                digest_algorithm=security["digestAlgorithm"],
            )
        if isinstance(xml, str):
            xml = xml.encode("utf-8")
        fields = {"SAMLRequest": base64.b64encode(xml).decode("ascii")}
        if args.relay_state is not None:
            fields["RelayState"] = args.relay_state
        out["url"] = auth.get_sso_url()
        out["fields"] = fields
    return out


def status_codes(b64):
    """All StatusCode values, outermost first (for the error message of a non-Success Response)."""
    try:
        doc = OneLogin_Saml2_XML.to_etree(base64.b64decode(b64))
        nodes = OneLogin_Saml2_XML.query(doc, "/samlp:Response/samlp:Status//samlp:StatusCode")
        return [n.get("Value") for n in nodes]
    except Exception:  # noqa: BLE001 - best effort, only decorates the library's message
        return []


def cmd_validate(args, cfg):
    settings = make_settings(cfg)
    post = {"SAMLResponse": args.saml_response}
    if args.relay_state is not None:
        post["RelayState"] = args.relay_state
    auth = OneLogin_Saml2_Auth(pc.acs_request_data(cfg["acs_url"], post), settings)
    try:
        auth.process_response(request_id=args.request_id)
    except REFUSALS as e:  # the library raises for undecodable / malformed input
        raise pc.Refused("python3-saml: %s: %s" % (type(e).__name__, e))
    errors = auth.get_errors()
    if errors or not auth.is_authenticated():
        reason = auth.get_last_error_reason() or ", ".join(errors) or "not authenticated"
        codes = status_codes(args.saml_response)
        if codes and codes[0] != pc.STATUS_SUCCESS:
            reason += " [status: %s]" % " / ".join(codes)
        raise pc.Refused("python3-saml: %s" % reason)
    contexts = auth.get_last_authn_contexts() or []
    return {
        "ok": True,
        "name_id": auth.get_nameid(),
        "name_id_format": auth.get_nameid_format(),
        "session_index": auth.get_session_index(),
        "authn_context": contexts[0] if contexts else None,
        "attributes": {k: [str(x) for x in v] for k, v in auth.get_attributes().items()},
        "relay_state": args.relay_state,
    }


if __name__ == "__main__":
    pc.run({"metadata": cmd_metadata, "authn": cmd_authn, "validate": cmd_validate})
