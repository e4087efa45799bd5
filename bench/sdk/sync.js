// A plain script on the official Genesys Cloud JavaScript SDK, doing what
// `gcscim sync` does for bench/bench_vs_sdk.sh, with the SDK's documented
// calls only: client credentials login, getScimV2Users (paged, the attributes
// compared), postScimV2Users for people not there yet, patchScimV2User (with
// If-Match of meta.version) for those whose title or department changed.
//
//   node sync.js API_URL CLIENT_ID CLIENT_SECRET IN_FLIGHT EXPORT.csv
//
// API_URL is http://127.0.0.1:PORT (the emulator: API and /oauth/token on one
// port), set as the SDK's gateway. Prints one JSON line: created, updated.
'use strict';
const fs = require('fs');
const platformClient = require('purecloud-platform-client-v2');

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const [apiUrl, clientId, clientSecret, inFlightArg, csvPath] = process.argv.slice(2);
const inFlight = Number(inFlightArg || 16);

function readExport(path) {
  const lines = fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length);
  const header = lines.shift().split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    const row = {};
    header.forEach((h, i) => { row[h] = cells[i]; });
    return row;
  });
}

// Runs fn over items with at most `limit` calls at once.
async function pool(items, limit, fn) {
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function main() {
  const url = new URL(apiUrl);
  const client = platformClient.ApiClient.instance;
  client.setGateway({ host: url.hostname, protocol: url.protocol.replace(':', ''),
                      port: Number(url.port) });
  await client.loginClientCredentialsGrant(clientId, clientSecret);
  const scim = new platformClient.SCIMApi();

  // Everybody there now, a page of 100 at a time with the compared attributes.
  const current = new Map();
  for (let start = 1; ; start += 100) {
    const page = await scim.getScimV2Users({
      startIndex: start, count: 100,
      attributes: ['userName', 'title', ENTERPRISE + ':department'],
    });
    for (const u of page.Resources || []) current.set(u.userName.toLowerCase(), u);
    if (!page.Resources || page.Resources.length === 0 || start + 100 > page.totalResults) break;
  }

  const creates = [], patches = [];
  for (const row of readExport(csvPath)) {
    const u = current.get(row.email.toLowerCase());
    if (!u) {
      creates.push({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
        userName: row.email, displayName: `${row.first} ${row.last}`, title: row.title,
        [ENTERPRISE]: { department: row.dept },
      });
      continue;
    }
    const ops = [];
    if (u.title !== row.title) ops.push({ op: 'replace', path: 'title', value: row.title });
    if ((u[ENTERPRISE] || {}).department !== row.dept)
      ops.push({ op: 'replace', path: ENTERPRISE + ':department', value: row.dept });
    if (ops.length) patches.push({ id: u.id, version: u.meta && u.meta.version, ops });
  }
  await pool(creates, inFlight, (body) => scim.postScimV2Users(body));
  await pool(patches, inFlight, (p) => scim.patchScimV2User(p.id, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: p.ops,
  }, p.version ? { ifMatch: `"${p.version}"` } : {}));
  console.log(JSON.stringify({ created: creates.length, updated: patches.length }));
}

main().catch((e) => {
  console.error('sdk script failed:', e && (e.message || e.body || e));
  process.exit(1);
});
