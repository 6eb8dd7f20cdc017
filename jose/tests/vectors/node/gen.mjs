// Generates the node `jose` interop vectors in this folder: keys, a bank-style JWK set, and tokens that
// `tests/interop_node.rs` must verify and decrypt. Run from tests/peers (where `jose` is installed):
//   cd tests/peers && node ../../jose/tests/vectors/node/gen.mjs
// Keys and tokens are random, so every run rewrites all files; commit them together.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(process.cwd(), 'package.json'));
const jose = await import(pathToFileURL(require.resolve('jose')).href);
const version = require('jose/package.json').version;

const sigRsa = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
const sigEc = await jose.generateKeyPair('ES256', { extractable: true });
const encRsa = await jose.generateKeyPair('RSA-OAEP', { modulusLength: 2048, extractable: true });

const publicJwk = async (key, kid, use) => ({ ...(await jose.exportJWK(key)), kid, use });
const jwks = {
  keys: [
    await publicJwk(sigRsa.publicKey, 'sig-rsa', 'sig'),
    await publicJwk(sigEc.publicKey, 'sig-ec', 'sig'),
  ],
};
const encJwk = await publicJwk(encRsa.publicKey, 'enc-rsa', 'enc');

const claims = {
  iss: 'https://bank.example',
  sub: 'not-persistent-123',
  aud: 'gateway-client',
  nonce: 'n-0S6_WzA2Mj',
  acr: 'http://ftn.ficora.fi/2017/loa3',
  personal_identity_code: '010170-999R',
  name: 'von Möttonen Matti Matias',
  iat: 1767225600,
  exp: 4102444800,
};
const sign = (alg, kid, key) =>
  new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
// The public key is imported per algorithm, as WebCrypto binds the OAEP hash to the key.
const encrypt = async (plaintext, alg, enc, extra = {}) =>
  new jose.CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg, enc, kid: 'enc-rsa', ...extra })
    .encrypt(await jose.importJWK({ ...encJwk, alg }, alg));

const rs256 = await sign('RS256', 'sig-rsa', sigRsa.privateKey);
const tokens = {
  generator: `node ${process.version}, jose ${version}`,
  claims,
  jws_rs256: rs256,
  // WebCrypto keys are bound to one algorithm: the same RSA key, imported again for PSS.
  jws_ps256: await sign('PS256', 'sig-rsa', await jose.importPKCS8(await jose.exportPKCS8(sigRsa.privateKey), 'PS256')),
  jws_es256: await sign('ES256', 'sig-ec', sigEc.privateKey),
  jwe_rsa_oaep_a128cbc_hs256: await encrypt('Live long and prosper.', 'RSA-OAEP', 'A128CBC-HS256'),
  jwe_rsa_oaep_256_a256gcm: await encrypt('Live long and prosper.', 'RSA-OAEP-256', 'A256GCM'),
  jwe_rsa_oaep_a128gcm: await encrypt('Live long and prosper.', 'RSA-OAEP', 'A128GCM'),
  // An FTN ID token: the RS256 JWS above, encrypted to the relying party.
  jwe_nested_id_token: await encrypt(rs256, 'RSA-OAEP', 'A128CBC-HS256', { cty: 'JWT' }),
};

const write = (name, text) => writeFileSync(join(here, name), text);
write('jwks.json', JSON.stringify(jwks, null, 2) + '\n');
write('enc-rsa.public.jwk.json', JSON.stringify(encJwk, null, 2) + '\n');
write('sig-rsa.pkcs8.pem', await jose.exportPKCS8(sigRsa.privateKey));
write('sig-ec.pkcs8.pem', await jose.exportPKCS8(sigEc.privateKey));
write('enc-rsa.pkcs8.pem', await jose.exportPKCS8(encRsa.privateKey));
write('tokens.json', JSON.stringify(tokens, null, 2) + '\n');
console.log(`wrote vectors with ${tokens.generator}`);
