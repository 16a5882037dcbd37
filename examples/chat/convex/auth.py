"""Sign-in for the chat (docs/auth.md): email and password; and, when the deployment's
environment names one (AUTH_OIDC_ISSUER, AUTH_OIDC_ID, AUTH_OIDC_SECRET), an OpenID
Connect provider, such as a local one in dev."""

import os

from pyconvex.auth import OIDC, Password, convex_auth


def profile(params, ctx):
    return {"email": params["email"], **({"name": params["name"]} if params.get("name") else {})}


providers = [Password(profile=profile)]
if os.environ.get("AUTH_OIDC_ISSUER"):
    providers.append(OIDC(id="oidc", issuer=os.environ["AUTH_OIDC_ISSUER"]))

auth, sign_in, sign_out, store = convex_auth(providers=providers)
