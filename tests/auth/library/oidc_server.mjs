// A real OpenID Provider for tests: the npm `oidc-provider` package (a certified
// implementation) with its development login and consent pages, one confidential client.
// Usage: node oidc_server.mjs <port> <redirect_uri>; prints "ready" when listening.
import Provider from "oidc-provider";

const [port, redirectUri] = [Number(process.argv[2]), process.argv[3]];
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: "pyconvex-test",
    client_secret: "test-secret",
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
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
