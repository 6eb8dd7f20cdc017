// The other direction of the interop check: node `jose` must verify and decrypt what we make.
//   run by tests/tests/jose_node.rs (cargo test -p tests --test jose_node), which writes the tokens file
//   and runs: cd tests/peers && node ../../jose/tests/vectors/node/check-ours.mjs FILE
// Exits non-zero on the first token node refuses.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(process.cwd(), 'package.json'));
const jose = await import(pathToFileURL(require.resolve('jose')).href);

const ours = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const jwks = jose.createLocalJWKSet(JSON.parse(readFileSync(join(here, 'jwks.json'), 'utf8')));
const pem = readFileSync(join(here, 'enc-rsa.pkcs8.pem'), 'utf8');
const decryptKey = (alg) => jose.importPKCS8(pem, alg);

for (const [name, alg] of [['jws_rs256', 'RS256'], ['jws_ps256', 'PS256'], ['jws_es256', 'ES256']]) {
  const { payload, protectedHeader } = await jose.jwtVerify(ours[name], jwks, { algorithms: [alg] });
  assert.equal(protectedHeader.alg, alg);
  assert.deepEqual(payload, ours.claims);
  console.log(`ok ${name}`);
}
for (const [name, alg, enc] of [
  ['jwe_rsa_oaep_a128cbc_hs256', 'RSA-OAEP', 'A128CBC-HS256'],
  ['jwe_rsa_oaep_256_a256gcm', 'RSA-OAEP-256', 'A256GCM'],
  ['jwe_rsa_oaep_a128gcm', 'RSA-OAEP', 'A128GCM'],
]) {
  const { plaintext, protectedHeader } = await jose.compactDecrypt(ours[name], await decryptKey(alg), {
    keyManagementAlgorithms: [alg],
    contentEncryptionAlgorithms: [enc],
  });
  assert.equal(protectedHeader.kid, 'enc-rsa');
  assert.equal(new TextDecoder().decode(plaintext), 'Live long and prosper.');
  console.log(`ok ${name}`);
}
const nested = await jose.compactDecrypt(ours.jwe_nested_id_token, await decryptKey('RSA-OAEP'));
assert.equal(nested.protectedHeader.cty, 'JWT');
const inner = await jose.jwtVerify(new TextDecoder().decode(nested.plaintext), jwks, { algorithms: ['RS256'] });
assert.deepEqual(inner.payload, ours.claims);
console.log('ok jwe_nested_id_token');
