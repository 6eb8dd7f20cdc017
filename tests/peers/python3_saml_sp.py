#!/usr/bin/env python3
"""SAML SP driven by OneLogin python3-saml (onelogin.saml2), strict mode.

Usage and output: see peer_common.py (the contract is shared by all drivers).
Run with tests/peers/.venv/bin/python.

Single logout (logout, slo): settings with sp.singleLogoutService (slo_url, HTTP-Redirect),
idp.singleLogoutService (idp_slo_url, or the metadata's Redirect SLO endpoint),
logoutRequestSigned and logoutResponseSigned (rsa-sha256), and, for slo only, wantMessagesSigned
(strict mode then refuses a LogoutRequest or LogoutResponse without a Signature parameter; it is
not set for login, where it would demand a signed Response besides the signed Assertion).
- logout: what OneLogin_Saml2_Auth.logout() does (its LogoutRequest class, add_request_signature,
  redirect_to), except that RelayState is left out when none is given (logout() would put the
  current URL there). No session is needed: NameID, its Format and SessionIndex are arguments.
- slo: OneLogin_Saml2_Auth.process_slo() on a request_data for a GET at slo_url (the "current
  URL" its Destination check compares with) carrying the query as received, with
  validate_signature_from_qs so that the signature is checked over the raw query octets; the
  signature is checked against the IdP certificate of the settings. No session cache is
  involved (process_slo only calls a delete-session callback, none is given). The NameID and
  SessionIndexes printed are read by the library's LogoutRequest.get_nameid /
  get_session_indexes from the request it validated; the LogoutResponse's second-level status
  is read from the document the library validated (python3-saml reports only the top level).
- Library behaviour: a LogoutResponse's InResponseTo is compared with --request-id only when the
  response carries one; Destination is compared with startswith(slo_url). process_slo keeps no
  reason when is_valid() fails (only "invalid_logout_request"): the driver asks the same
  validator (the message class's is_valid) again for it.
- Driver checks (errors starting "driver:"): the URL must be at slo_url, no query parameter twice.
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
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request  # noqa: E402
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response  # noqa: E402
from onelogin.saml2.settings import OneLogin_Saml2_Settings  # noqa: E402
from onelogin.saml2.utils import OneLogin_Saml2_Utils  # noqa: E402
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError  # noqa: E402
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML  # noqa: E402

# What python3-saml raises to refuse a Response (its own errors, and its parser's on malformed or
# DTD-carrying input). Anything else out of process_response (TypeError, KeyError, ...) is a
# crash of the library or the driver, never a refusal.
REFUSALS = (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError, XMLSyntaxError, DefusedXmlException,
            binascii.Error)


def settings_dict(cfg, name_id_format=None, slo=False):
    sp_cert = pc.read_text(cfg["sp_cert_file"])
    sp_key = pc.read_text(cfg["sp_key_file"])
    if cfg.get("idp_entity_id") and cfg.get("idp_sso_url") and cfg.get("idp_cert_pem_file"):
        idp = {
            "entityId": cfg["idp_entity_id"],
            "singleSignOnService": {"url": cfg["idp_sso_url"], "binding": C.BINDING_HTTP_REDIRECT},
            "x509cert": pc.pem_body(pc.read_text(cfg["idp_cert_pem_file"])),
        }
        if cfg.get("idp_slo_url"):
            idp["singleLogoutService"] = {"url": cfg["idp_slo_url"], "binding": C.BINDING_HTTP_REDIRECT}
    else:
        # The library's own metadata parser (first IdPSSODescriptor, Redirect SSO and SLO,
        # signing certs).
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(
            pc.read_text(cfg["idp_metadata_file"]),
            required_sso_binding=C.BINDING_HTTP_REDIRECT,
            required_slo_binding=C.BINDING_HTTP_REDIRECT,
        )
        idp = parsed["idp"]
    sp = {
        "entityId": cfg["entity_id"],
        "assertionConsumerService": {"url": cfg["acs_url"], "binding": C.BINDING_HTTP_POST},
        "NameIDFormat": name_id_format or C.NAMEID_UNSPECIFIED,
        "x509cert": sp_cert,
        "privateKey": sp_key,
    }
    if cfg.get("slo_url"):
        sp["singleLogoutService"] = {"url": cfg["slo_url"], "binding": C.BINDING_HTTP_REDIRECT}
    return {
        "strict": True,
        "debug": False,
        "sp": sp,
        "idp": idp,
        "security": {
            "authnRequestsSigned": bool(cfg["authn_requests_signed"]),
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "signMetadata": False,
            # Logout messages must carry a query signature; a login Response need not be signed
            # as a whole (the Assertion is).
            "wantMessagesSigned": slo,
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


def make_settings(cfg, name_id_format=None, slo=False):
    return OneLogin_Saml2_Settings(settings_dict(cfg, name_id_format, slo), sp_validation_only=False)


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


def status_codes(xml, root="Response"):
    """All StatusCode values, outermost first (for the error message of a non-Success Response)."""
    try:
        doc = OneLogin_Saml2_XML.to_etree(xml)
        nodes = OneLogin_Saml2_XML.query(doc, "/samlp:%s/samlp:Status//samlp:StatusCode" % root)
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
        codes = status_codes(base64.b64decode(args.saml_response))
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


def cmd_logout(args, cfg):
    pc.need_slo(cfg, "slo_url")
    settings = make_settings(cfg, slo=True)
    if not settings.get_idp_slo_url():
        raise pc.Usage("no IdP SingleLogoutService (idp_slo_url, or HTTP-Redirect in the IdP metadata)")
    auth = OneLogin_Saml2_Auth(pc.acs_request_data(cfg["slo_url"], {}), settings)
    req = auth.logout_request_class(
        settings,
        name_id=args.name_id,
        session_index=args.session_index,
        name_id_format=pc.NAMEID_FORMATS[args.name_id_format],
    )
    params = {"SAMLRequest": req.get_request()}
    if args.relay_state is not None:
        params["RelayState"] = args.relay_state
    auth.add_request_signature(params, settings.get_security_data()["signatureAlgorithm"])
    return {"request_id": req.id, "binding": "redirect", "url": auth.redirect_to(auth.get_slo_url(), params),
            "signed": True}


def validator_reason(settings, request_data, get_data, request_id):
    """python3-saml 1.16's process_slo records only "invalid_logout_request/response" when the
    message's is_valid() fails, not why: ask the same validator again for its reason."""
    try:
        if "SAMLRequest" in get_data:
            msg = OneLogin_Saml2_Logout_Request(settings, get_data["SAMLRequest"])
            msg.is_valid(request_data)
        else:
            msg = OneLogin_Saml2_Logout_Response(settings, get_data["SAMLResponse"])
            msg.is_valid(request_data, request_id)
        return msg.get_error()
    except REFUSALS:
        return None


def cmd_slo(args, cfg):
    query, get_data = pc.split_slo_url(cfg, args.url)
    settings = make_settings(cfg, slo=True)
    if "SAMLResponse" in get_data and not args.request_id:
        raise pc.Usage("a LogoutResponse needs --request-id")
    request_data = pc.slo_request_data(cfg, query, get_data)
    request_data["validate_signature_from_qs"] = True
    auth = OneLogin_Saml2_Auth(request_data, settings)
    try:
        response_url = auth.process_slo(keep_local_session=True, request_id=args.request_id)
    except REFUSALS as e:
        raise pc.Refused("python3-saml: %s: %s" % (type(e).__name__, e))
    errors = auth.get_errors()
    reason = None
    if errors:
        reason = auth.get_last_error_reason() or validator_reason(settings, request_data, get_data, args.request_id)
    if "SAMLRequest" in get_data:
        if errors:
            raise pc.Refused("python3-saml: %s" % (reason or ", ".join(errors)))
        xml = auth.get_last_request_xml()
        return {
            "ok": True,
            "kind": "request",
            "name_id": OneLogin_Saml2_Logout_Request.get_nameid(xml, settings.get_sp_key()),
            "session_indexes": OneLogin_Saml2_Logout_Request.get_session_indexes(xml),
            "response_url": response_url,
        }
    codes = status_codes(auth.get_last_response_xml(), "LogoutResponse")
    if errors:
        reason = reason or ", ".join(errors)
        if codes and codes[0] != pc.STATUS_SUCCESS:
            reason += " [status: %s]" % " / ".join(codes)
        raise pc.Refused("python3-saml: %s" % reason)
    return {"ok": True, "kind": "response", "status": codes[0] if codes else None,
            "sub_status": codes[1] if len(codes) > 1 else None}


if __name__ == "__main__":
    pc.run({"metadata": cmd_metadata, "authn": cmd_authn, "validate": cmd_validate, "logout": cmd_logout,
            "slo": cmd_slo})
