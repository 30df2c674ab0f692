'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { makeEnv, flush, plain } = require('./harness.js');

const eq = (a, b, msg) => assert.deepEqual(plain(a), plain(b), msg);

const HOSTILE = '<img src=x onerror=alert(1)>';
const STATUS = {
  running: true, pid: 42,
  clients: [
    { identity: 'alice@example.com', virtual_ip: '10.10.10.2', remote: '198.51.100.7:4500', nat: true,
      since: Math.floor(Date.now() / 1000) - 65, bytes_in: 2048, bytes_out: 10, ike: 'aes256-sha256-modp2048', esp: 'aes256-sha256' },
    { identity: HOSTILE, virtual_ip: '10.10.10.3', remote: '"><script>x</script>', nat: false,
      since: 0, bytes_in: 0, bytes_out: 0, ike: HOSTILE, esp: '' },
  ],
  failures: [
    { time: 1700000000, remote: '203.0.113.9:500', identity: '',
      reason: 'negotiation failed: no acceptable IKE proposal in aes256-sha1-modp1024, 3des-sha1-modp1024' },
    { time: 1700000001, remote: '203.0.113.9:500', identity: HOSTILE, reason: 'authentication failed: wrong pre-shared key' },
    { time: 1700000002, remote: HOSTILE, identity: '', reason: HOSTILE },
  ],
};

async function renderStatus(rpc = {}, uci = { server: { '.type': 'ikev2d', auth_mode: 'psk' } }) {
  let status = STATUS;
  const env = makeEnv({
    uci,
    rpc: {
      'ikev2d.status': () => status,
      'ikev2d.disconnect': () => { status = { ...STATUS, clients: STATUS.clients.slice(1) }; return { ok: true, result: {} }; },
      ...rpc,
    },
  });
  const view = env.load('view.ikev2d.status');
  const data = await view.load();
  const root = view.render(data);
  env.body.appendChild(root);
  return { env, view, root };
}

test('declares exactly the ubus calls it uses', async () => {
  const { env } = await renderStatus();
  const decl = env.log.declared.map((d) => [d.object, d.method, d.params || []]);
  eq(decl, [
    ['ikev2d', 'status', []],
    ['ikev2d', 'disconnect', ['target']],
    ['ikev2d', 'profile', ['platform', 'user']],
  ]);
});

test('polls status every 5 s and shows the clients', async () => {
  const { env, root } = await renderStatus();
  assert.equal(env.log.polls.length, 1);
  assert.equal(env.log.polls[0].interval, 5);
  const text = root.textContent;
  assert.match(text, /Running \(PID 42\), 2 client/);
  assert.match(text, /alice@example\.com/);
  assert.match(text, /198\.51\.100\.7:4500 \(NAT\)/);
  assert.match(text, /2\.0 KiB/);
  assert.match(text, /aes256-sha256-modp2048 \/ aes256-sha256/);
  await env.log.polls[0].fn();
  assert.equal(env.log.rpc.filter((r) => r.method === 'status').length, 2);
});

test('hostile identities and reasons are rendered as text, never as markup', async () => {
  const { root, env } = await renderStatus();
  const html = root.serialize();
  assert.ok(!html.includes('<img'), 'an <img> element was injected');
  assert.ok(!html.includes('<script'), 'a <script> element was injected');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal(root.findAll((n) => n.tag === 'img' || n.tag === 'script').length, 0);
  // also inside the confirmation dialog
  const btn = root.findAll((n) => n.tag === 'button' && n.textContent === 'Disconnect')[1];
  btn.click();
  const modal = env.log.modals[0].content.serialize();
  assert.ok(!modal.includes('<img') && modal.includes('&lt;img'));
});

test('Disconnect asks, calls disconnect with the identity, then refreshes', async () => {
  const { env, root } = await renderStatus();
  const buttons = root.findAll((n) => n.tag === 'button' && n.textContent === 'Disconnect');
  assert.equal(buttons.length, 2);
  buttons[0].click();
  assert.equal(env.log.rpc.filter((r) => r.method === 'disconnect').length, 0, 'no call before confirming');
  const modal = env.log.modals[0].content;
  const confirm = modal.find((n) => n.tag === 'button' && n.textContent === 'Disconnect');
  const before = env.log.rpc.filter((r) => r.method === 'status').length;
  await Promise.all(confirm.click());
  await flush();
  const calls = env.log.rpc.filter((r) => r.method === 'disconnect');
  eq(calls.map((c) => c.params), [{ target: 'alice@example.com' }]);
  assert.equal(env.log.rpc.filter((r) => r.method === 'status').length, before + 1);
  assert.ok(!root.textContent.includes('alice@example.com'), 'the table was refreshed');
});

test('failed attempts are explained in plain words', async () => {
  const { root } = await renderStatus();
  const text = root.textContent;
  assert.match(text, /Windows client offered only MODP1024.*legacy proposals.*PowerShell profile/);
  assert.match(text, /wrong pre-shared key/);
});

test('profile buttons download what the daemon returns', async () => {
  const data = Buffer.from('<?xml version="1.0"?><plist/>').toString('base64');
  const { env, root } = await renderStatus({
    'ikev2d.profile': (p) => ({ ok: true, result: { filename: 'vpn-ios.mobileconfig', mime: 'application/x-apple-aspen-config', data, contains_secret: true } }),
  });
  const btn = root.find((n) => n.tag === 'button' && n.attrs['data-platform'] === 'ios');
  await Promise.all(btn.click());
  await flush();
  const call = env.log.rpc.find((r) => r.method === 'profile');
  eq(call.params, { platform: 'ios', user: '' });
  assert.equal(env.log.downloads.length, 1);
  assert.equal(env.log.downloads[0].blob.type, 'application/x-apple-aspen-config');
  assert.equal(Buffer.from(env.log.downloads[0].blob.parts[0]).toString(), '<?xml version="1.0"?><plist/>');
  assert.equal(env.log.notifications[0].kind, 'warning');
});

test('EAP mode asks for the user; the Android card shows fields escaped and the QR as an <img>', async () => {
  const card = { fields: [{ label: 'Server address', value: HOSTILE }], warnings: [HOSTILE], qr_svg: 'PHN2Zy8+' };
  const { env, root } = await renderStatus(
    { 'ikev2d.profile': () => ({ ok: true, result: { filename: 'a.json', mime: 'application/json', data: Buffer.from(JSON.stringify(card)).toString('base64') } }) },
    { server: { '.type': 'ikev2d', auth_mode: 'eap' }, u1: { '.type': 'user', name: 'bob', enabled: '1' }, u2: { '.type': 'user', name: 'off', enabled: '0' } },
  );
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
});

test('profile errors are reported, not thrown', async () => {
  const { env, root } = await renderStatus({ 'ikev2d.profile': () => ({ ok: false, error: 'server_address is not set' }) });
  const btn = root.find((n) => n.tag === 'button' && n.attrs['data-platform'] === 'windows');
  await Promise.all(btn.click());
  await flush();
  assert.equal(env.log.notifications[0].kind, 'error');
  assert.match(env.log.notifications[0].content.textContent, /server_address is not set/);
});
