// A real OpenID Provider for tests: the npm `oidc-provider` package (a certified
// implementation) with its development login and consent pages, one confidential client.
// Usage: node oidc_server.mjs <port> <redirect_uri>; prints "ready" when listening.
import Provider from "oidc-provider";

const [port, redirectUri] = [Number(process.argv[2]), process.argv[3]];
// A second client, for plain OAuth 2 (secret in the form, user from the userinfo endpoint):
// the same redirect URI with the provider id "oauth-test" instead of "oidc-test".
const oauthRedirectUri = redirectUri.replace(/oidc-test$/, "oauth-test");
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: "pyconvex-test",
    client_secret: "test-secret",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }, {
    client_id: "pyconvex-oauth",
    client_secret: "oauth-secret",
    redirect_uris: [oauthRedirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@oidc.test`, email_verified: true, name: sub.toUpperCase() };
      },
    };
  },
  cookies: { keys: ["pyconvex-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});
provider.listen(port, "127.0.0.1", () => console.log("ready"));
