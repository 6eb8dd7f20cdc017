#!/usr/bin/env python3
"""An OpenID Connect relying party driven by Authlib (authlib.integrations.requests_client),
against the gateway's OpenID Connect provider: discovery, the authorization request with PKCE
(S256) and a nonce, the code exchange (client_secret_basic), the ID token validated by Authlib
(signature against the provider's JWKS, iss, aud, exp, iat, nonce), the access token's signature
and claims the same way, and userinfo.

Usage (run with tests/peers/.venv/bin/python):
  oidc_rp.py authorize --issuer URL --client-id ID --redirect-uri URI --scope "openid profile"
      prints {"url", "state", "code_verifier", "nonce"}
  oidc_rp.py token --issuer URL --client-id ID --client-secret S --redirect-uri URI
      --callback URL --state ST --code-verifier V --nonce N
      prints {"ok": true, "id_token_claims": {...}, "userinfo": {...}, "kid": ...}
Exit 1 with {"ok": false, "refused": true, "error": ...} when Authlib refuses (a bad ID token,
a state mismatch, a token error); 3 on a crash (never 1).
"""

import json
import sys
import traceback
import warnings

warnings.simplefilter("ignore")

try:
    import requests
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.common.security import generate_token
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import JoseError
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.oidc.core import CodeIDToken
except Exception as e:  # an import failure is a crash, not a refusal
    sys.stdout.write(json.dumps({"ok": False, "refused": False, "error": "error: %s: %s" % (type(e).__name__, e)}) + "\n")
    sys.exit(3)


def arg(name):
    args = sys.argv[2:]
    if name in args:
        i = args.index(name)
        if i + 1 < len(args):
            return args[i + 1]
    raise SystemExit("missing %s" % name)


def discovery(issuer):
    r = requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    r.raise_for_status()
    return r.json()


def authorize():
    issuer = arg("--issuer")
    conf = discovery(issuer)
    client = OAuth2Session(
        arg("--client-id"),
        scope=arg("--scope"),
        redirect_uri=arg("--redirect-uri"),
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = client.create_authorization_url(
        conf["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    return {"url": url, "state": state, "code_verifier": verifier, "nonce": nonce}


def token():
    issuer = arg("--issuer")
    client_id = arg("--client-id")
    conf = discovery(issuer)
    client = OAuth2Session(
        client_id,
        arg("--client-secret"),
        redirect_uri=arg("--redirect-uri"),
        state=arg("--state"),
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    tokens = client.fetch_token(
        conf["token_endpoint"],
        authorization_response=arg("--callback"),
        code_verifier=arg("--code-verifier"),
    )
    jwks = requests.get(conf["jwks_uri"], timeout=10).json()
    keys = JsonWebKey.import_key_set(jwks)
    claims = jwt.decode(
        tokens["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": conf["issuer"]},
            "aud": {"essential": True, "value": client_id},
        },
        claims_params={"nonce": arg("--nonce"), "client_id": client_id},
    )
    claims.validate()
    # The access token is a JWT too (RFC 9068): Authlib checks its signature with the same JWKS,
    # and its issuer, audience and expiry.
    at_claims = jwt.decode(
        tokens["access_token"],
        keys,
        claims_options={
            "iss": {"essential": True, "value": conf["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "exp": {"essential": True},
        },
    )
    at_claims.validate()
    header = json.loads(
        __import__("base64").urlsafe_b64decode(tokens["id_token"].split(".")[0] + "==")
    )
    userinfo = client.get(conf["userinfo_endpoint"]).json()
    return {
        "ok": True,
        "id_token_claims": dict(claims),
        "access_token_claims": dict(at_claims),
        "userinfo": userinfo,
        "kid": header.get("kid"),
    }


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        out = {"authorize": authorize, "token": token}[cmd]()
    except (JoseError, OAuthError) as e:
        sys.stdout.write(json.dumps({"ok": False, "refused": True, "error": "%s: %s" % (type(e).__name__, e)}) + "\n")
        sys.exit(1)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        sys.stdout.write(json.dumps({"ok": False, "refused": False, "error": "error: %s: %s" % (type(e).__name__, e)}) + "\n")
        sys.exit(3)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
