'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makeEnv, flush, plain } = require('./harness.js');

const eq = (a, b, msg) => assert.deepEqual(plain(a), plain(b), msg);

const HOSTILE = '<img src=x onerror=alert(1)>';
const NOW = Math.floor(Date.now() / 1000);
const STATUS = {
  running: true, pid: 42, started: NOW - 3600,
  clients: [
    { id: '1a2b3c4d5e6f7081', identity: 'alice@example.com', virtual_ip: '10.10.10.2', remote: '198.51.100.7:4500', nat: true,
      since: NOW - 65, bytes_in: 2048, bytes_out: 10, ike: 'aes256-sha256-modp2048', esp: 'aes256-sha256' },
    { id: '99aa88bb77cc66dd', identity: HOSTILE, virtual_ip: '10.10.10.3', remote: '"><script>x</script>', nat: false,
      since: 0, bytes_in: 0, bytes_out: 0, ike: HOSTILE, esp: '' },
  ],
  failures: [
    { time: 1700000000, remote: '203.0.113.9:500', identity: '', code: 'ike_proposal_weak',
      reason: 'negotiation failed: no acceptable IKE proposal in aes256-sha1-modp1024, 3des-sha1-modp1024' },
    { time: 1700000001, remote: '203.0.113.9:500', identity: HOSTILE, code: 'psk_wrong', reason: 'authentication failed: wrong pre-shared key' },
    { time: 1700000002, remote: HOSTILE, identity: '', code: 'nonsense', reason: HOSTILE },
  ],
};
const PSK_UCI = { server: { '.type': 'ikev2d', auth_mode: 'psk', server_address: 'vpn.example.com' } };
const EAP_UCI = { server: { '.type': 'ikev2d', auth_mode: 'eap', server_address: 'vpn.example.com' }, u1: { '.type': 'user', name: 'bob', enabled: '1' },
  u2: { '.type': 'user', name: 'off', enabled: '0' } };

async function renderStatus(rpc = {}, uci = PSK_UCI, status = STATUS, readonly = false, modules = {}) {
  let current = status;
  const env = makeEnv({
    uci,
    readonly,
    modules,
    rpc: {
      'ikev2d.status': () => current,
      'ikev2d.disconnect': (p) => {
        current = { ...current, clients: current.clients.filter((c) => c.id !== p.id) };
        return { ok: true, result: {} };
      },
      ...rpc,
    },
  });
  const view = env.load('view.ikev2d.status');
  const data = await view.load();
  const root = view.render(data);
  env.body.appendChild(root);
  return { env, view, root };
}

const buttons = (root, text) => root.findAll((n) => n.tag === 'button' && n.textContent === text);
const platforms = (root) => root.findAll((n) => n.tag === 'button' && n.attrs['data-platform']).map((b) => b.attrs['data-platform']);
const clientRows = (root) => root.findAll((n) => n.tag === 'tr' && 'data-connection' in n.attrs);

test('declares exactly the ubus calls it uses', async () => {
  const { env } = await renderStatus();
  const decl = env.log.declared.map((d) => [d.object, d.method, d.params || []]);
  eq(decl, [
    ['ikev2d', 'status', []],
    ['ikev2d', 'disconnect', ['id']],
    ['ikev2d', 'profile', ['platform', 'user']],
  ]);
});

test('polls status every 5 s and shows each device: connect time, directions, labels for phones', async () => {
  const { env, root } = await renderStatus();
  assert.equal(env.log.polls.length, 1);
  assert.equal(env.log.polls[0].interval, 5);
  const text = root.textContent;
  assert.match(text, /Running since .*; 2 device\(s\) connected/);
  assert.match(text, /alice@example\.com/);
  assert.match(text, /198\.51\.100\.7:4500 \(via NAT\)/);
  assert.match(text, /Data from the device.*Data to the device/);
  assert.match(text, /2\.0 KiB/);
  assert.match(text, /aes256-sha256-modp2048 \/ aes256-sha256/);
  const [alice] = clientRows(root);
  const since = alice.find((n) => n.attrs['data-title'] === 'Connected since');
  assert.match(since.textContent, new RegExp(new Date((NOW - 65) * 1000).toLocaleString().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(since.textContent, /1m \d+s/);
  // on a phone-width screen every cell is labelled by its column (LuCI's mobile.css)
  for (const row of clientRows(root))
    for (const td of row.findAll((n) => n.tag === 'td' && !n.attrs.class.includes('cbi-section-actions')))
      assert.ok(td.attrs['data-title'], `unlabelled cell: ${td.serialize()}`);
  await env.log.polls[0].fn();
  assert.equal(env.log.rpc.filter((r) => r.method === 'status').length, 2);
});

test('Disconnect addresses one connection by its id, even when devices share an identity', async () => {
  const twins = { ...STATUS, clients: [
    { ...STATUS.clients[0], id: 'aaaaaaaaaaaaaaaa', identity: 'client', virtual_ip: '10.10.10.2' },
    { ...STATUS.clients[0], id: 'bbbbbbbbbbbbbbbb', identity: 'client', virtual_ip: '10.10.10.3' },
  ] };
  const { env, root } = await renderStatus({}, PSK_UCI, twins);
  buttons(root, 'Disconnect')[1].click();
  assert.equal(env.log.rpc.filter((r) => r.method === 'disconnect').length, 0, 'no call before confirming');
  const modal = env.log.modals[0].content;
  assert.match(modal.textContent, /address 10\.10\.10\.3/, 'the dialog names which of the two');
  const before = env.log.rpc.filter((r) => r.method === 'status').length;
  await Promise.all(modal.find((n) => n.tag === 'button' && n.textContent === 'Disconnect').click());
  await flush();
  eq(env.log.rpc.filter((r) => r.method === 'disconnect').map((c) => c.params), [{ id: 'bbbbbbbbbbbbbbbb' }]);
  assert.equal(env.log.rpc.filter((r) => r.method === 'status').length, before + 1);
  eq(clientRows(root).map((r) => r.attrs['data-connection']), ['aaaaaaaaaaaaaaaa'], 'the other device stays');
});

test('hostile identities and reasons are rendered as text, never as markup', async () => {
  const { root, env } = await renderStatus();
  const html = root.serialize();
  assert.ok(!html.includes('<img'), 'an <img> element was injected');
  assert.ok(!html.includes('<script'), 'a <script> element was injected');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal(root.findAll((n) => n.tag === 'img' || n.tag === 'script').length, 0);
  buttons(root, 'Disconnect')[1].click();  // also inside the confirmation dialog
  const modal = env.log.modals[0].content.serialize();
  assert.ok(!modal.includes('<img') && modal.includes('&lt;img'));
});

test('untrusted text is isolated, cut with a title, and shows control and bidi characters', async () => {
  const long = 'A'.repeat(8000);
  const rlo = 'evil\u202Egnp.exe';
  const forged = 'alice (10.0.0.1:4500): connected fine';
  const status = { ...STATUS, clients: [{ ...STATUS.clients[0], identity: long }, { ...STATUS.clients[1], identity: rlo }],
    failures: [{ time: 1700000000, remote: '192.0.2.1:500', identity: forged, code: 'psk_wrong', reason: 'wrong' }] };
  const { root } = await renderStatus({}, PSK_UCI, status);
  const bdis = root.findAll((n) => n.tag === 'bdi');
  const longBdi = bdis.find((b) => (b.attrs.title || '') === long);
  assert.ok(longBdi, 'the whole identity is in the title');
  assert.equal([...longBdi.textContent].length, 64);
  assert.match(longBdi.attrs.style, /overflow-wrap: anywhere/);
  assert.ok(!root.textContent.includes('\u202E'), 'a bidi override reached the page');
  assert.ok(bdis.some((b) => b.textContent === 'evil[U+202E]gnp.exe'));
  // a forged "line" stays inside the one cell that holds the identity
  const row = root.find((n) => n.tag === 'tr' && n.textContent.includes(forged));
  const cells = row.findAll((n) => n.tag === 'td');
  assert.equal(cells.filter((c) => c.textContent.includes(forged)).length, 1);
  assert.equal(cells.find((c) => c.textContent.includes(forged)).attrs['data-title'], 'Device');
  assert.ok(cells.find((c) => c.find((n) => n.tag === 'bdi' && n.textContent === forged)));
});

test('failed attempts are explained by their code, not by matching the daemon\'s words', async () => {
  const { root } = await renderStatus();
  const text = root.textContent;
  assert.match(text, /wrong key\. Download its profile again/);
  // weak-only offer in PSK mode: no PowerShell profile this mode cannot make; how to get one
  assert.match(text, /only old, weak encryption.*Windows needs users or certificates/);
  assert.doesNotMatch(text, /Run the Windows profile from below/);
  // a code this page does not know: the daemon's own words, as text
  assert.ok(root.serialize().includes('&lt;img src=x onerror=alert(1)&gt;'));
  // the same English text under another code gives that code's sentence
  const other = { ...STATUS, failures: [{ ...STATUS.failures[1], code: 'ike_proposal' }] };
  const again = await renderStatus({}, PSK_UCI, other);
  assert.match(again.root.textContent, /offered encryption the server does not accept/);
  assert.doesNotMatch(again.root.textContent, /wrong key/);
  const eap = await renderStatus({}, EAP_UCI);
  assert.match(eap.root.textContent, /Run the Windows profile from below/);
});

test('every failure code the daemon can give has its own sentence', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { ROOT } = require('./harness.js');
  const codes = new Set();
  const dir = path.join(ROOT, 'src/ikev2d/ike');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.py')))
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/code=f?"([a-z_{}]+)"|Failed\(.*, "([a-z_]+)"\)\)/g))
      codes.add(m[1] || m[2]);
  codes.delete('{kind}_proposal_weak');
  codes.delete('{kind}_proposal');
  ['ike_proposal', 'esp_proposal', 'internal_address_failure', 'ts_unacceptable'].forEach((c) => codes.add(c));
  assert.ok(codes.size >= 15, [...codes].join(' '));
  for (const code of codes) {
    const { root } = await renderStatus({}, PSK_UCI, { ...STATUS, failures: [{ time: 1, remote: 'r', identity: 'x', code, reason: 'RAW-DAEMON-TEXT' }] });
    assert.doesNotMatch(root.textContent, /RAW-DAEMON-TEXT/, `no sentence for ${code}`);
  }
});

test('why the server is not running comes from the status, with the problems it names', async () => {
  const cases = [
    [{ running: false, reason: 'disabled' }, /switched off\. Tick "Enabled"/],
    [{ running: false, reason: 'config_error', problems: ['server.psk: <hidden> is required when auth_mode is psk'] },
      /settings have problems.*server\.psk: <hidden> is required/],
    [{ running: false, reason: 'port_in_use', detail: 'bind 0.0.0.0:500: Address in use' }, /another program already uses its ports.*Address in use/],
    [{ running: false, reason: 'no_kernel_support' }, /kmod-ipsec4/],
    [{ running: false, reason: 'exited' }, /ended unexpectedly/],
    [{ running: false }, /has not been started since the router booted/],
  ];
  for (const [status, expected] of cases) {
    const { root } = await renderStatus({}, PSK_UCI, { clients: [], failures: [], ...status });
    const state = root.find((n) => n.attrs.id === 'ikev2d-state');
    assert.match(state.textContent, expected, JSON.stringify(status));
  }
});

test('settings refused while the server runs: it says so, names the problems, and the server stays', async () => {
  const refused = { running: false, reason: 'config_error', problems: ['server.pool: \'10.0.0.0/33\' is not an IPv4 network', 'server.port: 0 is out of range'] };
  const { root } = await renderStatus({}, PSK_UCI, { running: true, started: 1700000000, clients: [], failures: [], refused });
  const state = root.find((n) => n.attrs.id === 'ikev2d-state');
  assert.match(state.textContent, /Running since .*not applied: they have problems.*earlier settings/);
  assert.match(state.textContent, /server\.pool: '10\.0\.0\.0\/33' is not an IPv4 network.*server\.port: 0 is out of range/);
  const plain = await renderStatus({}, PSK_UCI, { running: true, started: 1700000000, clients: [], failures: [] });
  assert.doesNotMatch(plain.root.find((n) => n.attrs.id === 'ikev2d-state').textContent, /not applied/);
  // the init script's "disabled" record while procd is stopping the daemon is not a refusal
  const stopping = await renderStatus({}, PSK_UCI, { running: true, started: 1700000000, clients: [], failures: [], refused: { reason: 'disabled' } });
  assert.doesNotMatch(stopping.root.find((n) => n.attrs.id === 'ikev2d-state').textContent, /not applied/);
});

test('PSK mode offers only the profiles it can make, and says in plain words how to get the others', async () => {
  const { root } = await renderStatus();
  eq(platforms(root), ['ios', 'macos', 'android']);
  const setup = root.find((n) => n.tag === 'div' && n.find((h) => h.tag === 'h3' && h.textContent === 'Set up a device'));
  assert.match(setup.textContent, /Windows and the strongSwan app .* switch Authentication on the Settings page/);
  assert.doesNotMatch(setup.textContent, /auth_mode|\beap\b|\bpsk\b|\bcert\b|server_address/);
  const eap = await renderStatus({}, EAP_UCI);
  eq(platforms(eap.root), ['ios', 'macos', 'android', 'android-sswan', 'windows']);
});

test('the profile buttons are the daemon\'s platforms and modes from schema.js, not a list of its own', async () => {
  const schema = { platforms: [{ id: 'ios', modes: ['psk', 'eap'] }, { id: 'newphone', modes: ['eap'] }] };
  const modules = { 'ikev2d.schema': { schema } };
  const psk = await renderStatus({}, PSK_UCI, STATUS, false, modules);
  eq(platforms(psk.root), ['ios']);
  const eap = await renderStatus({}, EAP_UCI, STATUS, false, modules);
  eq(platforms(eap.root), ['ios', 'newphone']);
  eq(buttons(eap.root, 'newphone').length, 1, 'a platform this page has no name for shows its id');
  eq(buttons(eap.root, 'iPhone / iPad').length, 1);
});

test('a PSK profile carries the device name the owner types, so each device has its own row', async () => {
  const data = Buffer.from('<?xml version="1.0"?><plist/>').toString('base64');
  const { env, root } = await renderStatus({
    'ikev2d.profile': () => ({ ok: true, result: { filename: 'vpn-ios.mobileconfig', mime: 'application/x-apple-aspen-config', data, contains_secret: true } }),
  });
  const ios = root.find((n) => n.tag === 'button' && n.attrs['data-platform'] === 'ios');
  await Promise.all(ios.click());
  await flush();
  assert.equal(env.log.rpc.filter((r) => r.method === 'profile').length, 0, 'no profile without a name');
  assert.match(env.log.notifications[0].content.textContent, /type a name for the device first/);
  const name = root.find((n) => n.attrs.id === 'ikev2d-device-name');
  name.value = 'annas-phone\u202E';
  await Promise.all(ios.click());
  await flush();
  assert.equal(env.log.rpc.filter((r) => r.method === 'profile').length, 0, 'no control characters in a name');
  name.value = '  annas-phone ';
  await Promise.all(ios.click());
  await flush();
  eq(env.log.rpc.find((r) => r.method === 'profile').params, { platform: 'ios', user: 'annas-phone' });
  assert.equal(env.log.downloads.length, 1);
  assert.equal(env.log.downloads[0].blob.type, 'application/x-apple-aspen-config');
  assert.equal(Buffer.from(env.log.downloads[0].blob.parts[0]).toString(), '<?xml version="1.0"?><plist/>');
  assert.equal(env.log.notifications.at(-1).kind, 'warning');
});

test('EAP mode asks for the user; the Android card shows fields escaped, the QR as an <img> and what it is for', async () => {
  const card = { fields: [{ label: 'Server address', value: HOSTILE }], warnings: [HOSTILE], qr_svg: 'PHN2Zy8+' };
  const { env, root } = await renderStatus(
    { 'ikev2d.profile': () => ({ ok: true, result: { filename: 'a.json', mime: 'application/json', data: Buffer.from(JSON.stringify(card)).toString('base64') } }) },
    EAP_UCI,
  );
  assert.equal(root.find((n) => n.attrs.id === 'ikev2d-device-name'), null);
  const select = root.find((n) => n.attrs.id === 'ikev2d-profile-user');
  eq(select.children.map((o) => o.attrs.value), ['bob']);
  select.value = 'bob';
  const btn = root.find((n) => n.tag === 'button' && n.attrs['data-platform'] === 'android');
  await Promise.all(btn.click());
  await flush();
  eq(env.log.rpc.find((r) => r.method === 'profile').params, { platform: 'android', user: 'bob' });
  const modal = env.log.modals[0].content;
  const html = modal.serialize();
  assert.ok(!html.includes('<img src=x') && html.includes('&lt;img src=x'));
  const imgs = modal.findAll((n) => n.tag === 'img');
  assert.equal(imgs.length, 1);
  assert.equal(imgs[0].attrs.src, 'data:image/svg+xml;base64,PHN2Zy8+');
  assert.match(modal.textContent, /QR code holds the same settings as text.*cannot import it/);
});

test('without users (EAP) or a server address, it says what to do instead of offering buttons that fail', async () => {
  const { root } = await renderStatus({}, { server: { '.type': 'ikev2d', auth_mode: 'eap', server_address: 'vpn.example.com' } });
  assert.match(root.textContent, /Add a user on the Settings page first/);
  assert.ok(root.findAll((n) => n.tag === 'button' && n.attrs['data-platform']).every((b) => b.attrs.disabled === 'true'));
  const nameless = await renderStatus({}, { server: { '.type': 'ikev2d', auth_mode: 'psk' } });
  assert.match(nameless.root.textContent, /Every profile needs the server address: set it on the Settings page/);
  const platformButtons = nameless.root.findAll((n) => n.tag === 'button' && n.attrs['data-platform']);
  assert.ok(platformButtons.length && platformButtons.every((b) => b.attrs.disabled === 'true'));
});

test('profile errors are reported, not thrown', async () => {
  const { env, root } = await renderStatus({ 'ikev2d.profile': () => ({ ok: false, error: 'server_address is not set' }) }, EAP_UCI);
  root.find((n) => n.attrs.id === 'ikev2d-profile-user').value = 'bob';
  const btn = root.find((n) => n.tag === 'button' && n.attrs['data-platform'] === 'windows');
  await Promise.all(btn.click());
  await flush();
  assert.equal(env.log.notifications[0].kind, 'error');
  assert.match(env.log.notifications[0].content.textContent, /server_address is not set/);
});

test('a read-only user sees the status, but no Disconnect and no profiles (they carry the key)', async () => {
  const { root } = await renderStatus({}, PSK_UCI, STATUS, true);
  assert.match(root.textContent, /alice@example\.com/);
  assert.match(root.textContent, /wrong key/);
  assert.equal(buttons(root, 'Disconnect').length, 0);
  assert.equal(root.findAll((n) => n.tag === 'button' && n.attrs['data-platform']).length, 0);
  assert.doesNotMatch(root.textContent, /Set up a device/);
});

test('every "Settings → …" the status page points to is a tab of the settings page', async () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { RES } = require('./harness.js');
  const source = fs.readFileSync(path.join(RES, 'view/ikev2d/status.js'), 'utf8');
  const named = new Set([...source.matchAll(/Settings → ([A-Z][\w-]+)/g)].map((m) => m[1]));
  const env = makeEnv({ uci: PSK_UCI });
  env.load('view.ikev2d.settings').render();
  const tabs = env.log.maps[0].sections[0].tabTitles;
  assert.ok(named.size >= 2);
  for (const name of named) assert.ok(tabs.includes(name), `"Settings → ${name}" is no tab (tabs: ${tabs})`);
});
