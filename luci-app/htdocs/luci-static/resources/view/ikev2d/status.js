'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require uci';
'require dom';
'require ikev2d.untrusted as untrusted';
'require ikev2d.schema as schemamod';

// Every string of the status goes into E() inside an array, which LuCI turns into a text node
// (a bare string child would be parsed as HTML). The text a client chose itself, its identity,
// also goes through untrusted.render(); addresses and algorithm names are the daemon's.

var callStatus = rpc.declare({ object: 'ikev2d', method: 'status', expect: { '': {} } });
var callDisconnect = rpc.declare({ object: 'ikev2d', method: 'disconnect', params: [ 'id' ] });
var callProfile = rpc.declare({ object: 'ikev2d', method: 'profile', params: [ 'platform', 'user' ] });

// The platform buttons: the daemon's profile platforms and the authentication modes each can
// use (schema.js, generated from ikev2d.profiles), under these names; a platform without one
// here shows its id.
var PLATFORM_LABELS = {
	'ios': _('iPhone / iPad'),
	'macos': _('Mac'),
	'android': _('Android, built-in VPN (settings to type in)'),
	'android-sswan': _('Android, strongSwan app'),
	'windows': _('Windows (PowerShell script)')
};
var DEVICE_NAME_MAX = 64;

// Why the server is not running (status "reason"), as the init script and the daemon report it.
var STOPPED = {
	disabled: _('The VPN server is switched off. Tick "Enabled" on the Settings page, then Save & Apply.'),
	config_error: _('The VPN server did not start: its settings have problems. Correct them on the Settings page, then Save & Apply:'),
	port_in_use: _('The VPN server could not start: another program already uses its ports (UDP 500 and 4500), for example another VPN server. Stop that program, then restart the VPN server.'),
	no_kernel_support: _('The VPN server could not start: the router lacks kernel support for IPsec. Install the packages kmod-ipsec, kmod-ipsec4 and kmod-ipsec6 (System → Software), then restart the router.'),
	start_failed: _('The VPN server could not start:'),
	stopped: _('The VPN server was stopped.'),
	exited: _('The VPN server ended unexpectedly. The system log (Status → System Log) says why; the router restarts it by itself.'),
	not_started: _('The VPN server has not been started since the router booted.')
};

// A failed attempt by its code (status "failures"); the daemon's words are kept in a tooltip.
var FAILED = {
	psk_wrong: _('The device used a wrong key. Download its profile again.'),
	psk_not_set: _('The device uses a pre-shared key, but the server has none.'),
	eap_not_set: _('The device asked to log in with a user name and password, but no users are set up on the server.'),
	password_wrong: _('Wrong user name or password.'),
	eap_failed: _('The login with user name and password failed.'),
	cert_not_set: _('The device logged in with a certificate, but the server does not use certificates.'),
	cert_missing: _('The device sent no certificate.'),
	cert_refused: _('The device\'s certificate was refused (revoked, expired or from another authority).'),
	cert_identity: _('The device\'s name does not match its certificate.'),
	signature_wrong: _('The device\'s signature does not match its certificate.'),
	identity_invalid: _('The device sent an unreadable identity.'),
	identity_refused: _('The device\'s identity is not the one the server requires (Settings → Authentication).'),
	method_unsupported: _('The device uses a login method this server does not support.'),
	method_refused: _('The device logs in another way than the one chosen under Authentication on the Settings page.'),
	server_refused: _('The device did not accept the server: it may not trust the server\'s certificate, or its profile names another server address.'),
	abandoned: _('The device gave up before the login finished.'),
	ike_proposal: _('The device offered encryption the server does not accept. Install a profile from below on it, or choose another preset under Settings → Algorithms.'),
	esp_proposal: _('The device offered tunnel encryption the server does not accept. Install a profile from below on it, or choose another preset under Settings → Algorithms.'),
	internal_address_failure: _('No free address was left for the device: make the client address pool bigger.'),
	ts_unacceptable: _('The device asked for networks the server does not offer.'),
	ike_proposal_pq: _('The device offered no post-quantum key exchange, which the server requires. iPhone, iPad and Mac need version 26 and a profile from below; or set Post-quantum protection to "When the device supports it" under Settings → Algorithms.'),
	rekey_refused: _('A connected device refused to renew its keys; it will reconnect.')
};
var WEAK = {  // the device offered only old algorithms: Windows' built-in defaults
	psk: _('The device offered only old, weak encryption, as Windows does by default. Windows needs users or certificates (Settings → Authentication) and its PowerShell profile; allowing the weak algorithms (Settings → Algorithms) also lets it in.'),
	other: _('The device offered only old, weak encryption, as Windows does by default. Run the Windows profile from below on it, or allow the weak algorithms (Settings → Algorithms).')
};

function fmtBytes(n) {
	var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;
	n = Number(n) || 0;
	while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
	return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

function fmtDuration(secs) {
	secs = Math.max(0, Math.floor(secs));
	var d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60);
	if (d)
		return _('%dd %dh').format(d, h);
	return h ? _('%dh %dm').format(h, m) : _('%dm %ds').format(m, secs % 60);
}

function fmtTime(ts) {
	return new Date(Number(ts || 0) * 1000).toLocaleString();
}

function authMode() {
	return uci.get('ikev2d', 'server', 'auth_mode') || 'psk';
}

// What to tell the owner about a failed attempt: by its code, or the daemon's words for a
// code this page does not know.
function explainFailure(f) {
	var code = String(f.code || '');
	if (/_proposal_weak$/.test(code) && uci.get('ikev2d', 'server', 'legacy_proposals') != '1')
		return WEAK[authMode() == 'psk' ? 'psk' : 'other'];
	return FAILED[code.replace(/_weak$/, '')] || untrusted.render(f.reason || code, 200);
}

function downloadBase64(filename, mime, b64) {
	var bin = atob(b64), bytes = new Uint8Array(bin.length);
	for (var i = 0; i < bin.length; i++)
		bytes[i] = bin.charCodeAt(i);
	var url = URL.createObjectURL(new Blob([ bytes ], { type: mime }));
	var a = E('a', { href: url, download: filename, style: 'display:none' });
	document.body.appendChild(a);
	a.click();
	document.body.removeChild(a);
	URL.revokeObjectURL(url);
}

// The daemon's lines (problems of the settings, why it stopped), one per item; '' if none.
function problemList(lines) {
	if (!Array.isArray(lines) || !lines.length)
		return '';
	return E('ul', {}, lines.map(function(line) {
		return E('li', {}, [ E('code', { 'style': 'white-space: pre-wrap; word-break: break-all' }, [ untrusted.visible(String(line)) ]) ]);
	}));
}

function cell(title, content, extra) {
	return E('td', Object.assign({ 'class': 'td', 'data-title': title }, extra || {}), content);
}

return view.extend({
	load: function() {
		return Promise.all([ callStatus(), uci.load('ikev2d') ]);
	},

	disconnect: function(client, ev) {
		var self = this;
		ui.showModal(_('Disconnect a device'), [
			E('p', {}, [ _('Disconnect'), ' ', untrusted.render(client.identity), ' ',
				_('(address %s, connected from %s)?').format(untrusted.visible(client.virtual_ip || '-'),
					untrusted.visible(client.remote || '-')),
				' ', _('It may connect again by itself; to keep it out, change the key or remove its user.') ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, [ _('Cancel') ]), ' ',
				E('button', { 'class': 'btn cbi-button-negative', 'click': function() {
					ui.hideModal();
					return callDisconnect(String(client.id)).then(function(res) {
						if (res && res.ok === false)
							ui.addNotification(null, E('p', {}, [ _('Disconnect failed: %s').format(res.error) ]), 'error');
						return self.refresh();
					});
				} }, [ _('Disconnect') ])
			])
		]);
	},

	refresh: function() {
		var self = this;
		return callStatus().then(function(status) { self.update(status); });
	},

	update: function(status) {
		status = status || {};
		[ [ 'ikev2d-state', this.renderState(status) ],
		  [ 'ikev2d-clients', this.renderClients(status.clients || []) ],
		  [ 'ikev2d-failures', this.renderFailures(status.failures || []) ] ].forEach(function(part) {
			var node = document.getElementById(part[0]);
			if (node)
				dom.content(node, part[1]);
		});
	},

	renderState: function(status) {
		var out;
		if (status.running) {
			var n = (status.clients || []).length;
			out = [ E('p', {}, [ _('Running since %s; %d device(s) connected.').format(fmtTime(status.started), n) ]) ];
			var refused = status.refused || {};
			if (refused.reason == 'config_error')
				out.push(E('p', {}, [ E('strong', {}, [ _('The settings saved last were not applied: they have problems. The VPN server keeps running with its earlier settings. Correct them on the Settings page, then Save & Apply:') ]) ]),
					problemList(refused.problems));
			return out;
		}
		var reason = String(status.reason || 'not_started');
		out = [ E('p', {}, [ E('strong', {}, [ STOPPED[reason] || STOPPED.start_failed ]) ]) ];
		out.push(problemList((Array.isArray(status.problems) ? status.problems : []).concat(status.detail ? [ status.detail ] : [])));
		return out;
	},

	renderClients: function(clients) {
		var self = this;
		var titles = [ _('Device'), _('Address in the VPN'), _('Connected from'), _('Connected since'),
			_('Data from the device'), _('Data to the device'), _('Encryption') ];
		var rows = [ E('tr', { 'class': 'tr table-titles' }, titles.concat([ '' ]).map(function(t) {
			return E('th', { 'class': 'th' }, [ t ]);
		})) ];
		var now = Date.now() / 1000;
		clients.forEach(function(c) {
			var algos = [ c.ike, c.esp ].filter(function(x) { return x; }).join(' / ');
			rows.push(E('tr', { 'class': 'tr', 'data-connection': String(c.id || '') }, [
				cell(titles[0], [ untrusted.render(c.identity) ]),
				cell(titles[1], [ untrusted.visible(c.virtual_ip || '-') ]),
				cell(titles[2], [ String(c.remote || ''), c.nat ? ' ' + _('(via NAT)') : '' ]),
				cell(titles[3], [ fmtTime(c.since), E('br'), E('small', {}, [ fmtDuration(now - Number(c.since || now)) ]) ]),
				cell(titles[4], [ fmtBytes(c.bytes_in) ]),
				cell(titles[5], [ fmtBytes(c.bytes_out) ]),
				cell(titles[6], [ algos ]),
				E('td', { 'class': 'td cbi-section-actions' }, self.readonly ? [] : [
					E('button', {
						'class': 'btn cbi-button-remove',
						'click': ui.createHandlerFn(self, 'disconnect', c)
					}, [ _('Disconnect') ])
				])
			]));
		});
		if (!clients.length)
			rows.push(E('tr', { 'class': 'tr placeholder' }, [
				E('td', { 'class': 'td' }, [ E('em', {}, [ _('No devices connected.') ]) ])
			]));
		return [ E('table', { 'class': 'table' }, rows) ];
	},

	renderFailures: function(failures) {
		if (!failures.length)
			return [ E('em', {}, [ _('No failed attempts recently.') ]) ];
		var titles = [ _('Time'), _('Device'), _('From'), _('What happened') ];
		var rows = [ E('tr', { 'class': 'tr table-titles' }, titles.map(function(t) {
			return E('th', { 'class': 'th' }, [ t ]);
		})) ];
		failures.slice(-10).reverse().forEach(function(f) {
			rows.push(E('tr', { 'class': 'tr' }, [
				cell(titles[0], [ fmtTime(f.time) ]),
				cell(titles[1], [ f.identity ? untrusted.render(f.identity) : E('em', {}, [ _('(not named)') ]) ]),
				cell(titles[2], [ String(f.remote || '') ]),
				cell(titles[3], [ explainFailure(f) ], { 'title': untrusted.visible(f.reason || '') })
			]));
		});
		return [ E('table', { 'class': 'table' }, rows) ];
	},

	fetchProfile: function(platform, user) {
		var self = this;
		return callProfile(platform, user || '').then(function(res) {
			if (!res || res.ok === false || !res.result)
				throw new Error((res && res.error) || _('no answer'));
			var r = res.result;
			if (platform == 'android')
				return self.showCard(JSON.parse(atob(r.data)));
			downloadBase64(r.filename, r.mime, r.data);
			if (r.contains_secret)
				ui.addNotification(null, E('p', {}, [ _('%s contains the secret key: hand it over privately.').format(r.filename) ]), 'warning');
		}).catch(function(err) {
			ui.addNotification(null, E('p', {}, [ _('No profile: %s').format(err.message || err) ]), 'error');
		});
	},

	showCard: function(card) {
		var rows = (card.fields || []).map(function(f) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left' }, [ String(f.label) ]),
				E('td', { 'class': 'td left' }, [ E('code', { 'style': 'word-break: break-all' }, [ String(f.value) ]) ])
			]);
		});
		var body = [ E('p', {}, [ _('On the phone: Settings → Network → VPN → Add VPN, then type in:') ]),
			E('table', { 'class': 'table' }, rows) ];
		(card.warnings || []).forEach(function(w) {
			body.push(E('p', { 'class': 'alert-message warning' }, [ String(w) ]));
		});
		if (card.qr_svg) {  // an <img> never runs script, whatever the SVG holds
			body.push(E('p', {}, [ _('The QR code holds the same settings as text, to read them on another device. Android cannot import it as a VPN.') ]));
			body.push(E('img', { src: 'data:image/svg+xml;base64,' + card.qr_svg, alt: _('QR code of the settings above'), width: '228', height: '228' }));
		}
		body.push(E('div', { 'class': 'right' }, [ E('button', { 'class': 'btn', 'click': ui.hideModal }, [ _('Close') ]) ]));
		ui.showModal(_('Android built-in VPN'), body);
	},

	// Who the profile is for: a user (users mode) or a device name the owner types, which the
	// device then sends as its identity, so each device has its own row on this page.
	renderWho: function(mode) {
		if (mode == 'eap') {
			var users = uci.sections('ikev2d', 'user').filter(function(s) { return s.enabled != '0' && s.name; });
			if (!users.length)
				return { node: E('p', {}, [ E('em', {}, [ _('Add a user on the Settings page first (Authentication → Users).') ]) ]) };
			var select = E('select', { 'class': 'cbi-input-select', 'id': 'ikev2d-profile-user' },
				users.map(function(s) { return E('option', { value: s.name }, [ s.name ]); }));
			return { node: E('label', {}, [ _('Profile for user:'), ' ', select ]), value: function() { return select.value; } };
		}
		var input = E('input', { 'class': 'cbi-input-text', 'id': 'ikev2d-device-name', 'type': 'text',
			'maxlength': String(DEVICE_NAME_MAX), 'placeholder': _('e.g. annas-phone') });
		var shared = uci.get('ikev2d', 'server', 'remote_id');
		return {
			node: E('div', {}, [
				E('label', {}, [ mode == 'cert' ? _('Certificate name:') : _('Device name:'), ' ', input ]),
				E('p', { 'class': 'cbi-value-description' }, [ shared
					? _('The server requires every device to use the same identity (Settings → Authentication), so devices are told apart by their address only.')
					: mode == 'cert' ? _('The name the certificate was issued for (ikev2ctl pki issue NAME).')
					: _('The device shows up under this name on this page. Give each device its own name.') ])
			]),
			value: function() {
				var name = String(input.value || '').trim();
				if (!name || untrusted.visible(name) !== name)
					throw new Error(_('type a name for the device first (letters, digits, no control characters)'));
				return name;
			}
		};
	},

	renderSetup: function() {
		var self = this, mode = authMode(), who = this.renderWho(mode);
		var address = uci.get('ikev2d', 'server', 'server_address');
		var offered = schemamod.schema.platforms.filter(function(p) { return p.modes.indexOf(mode) >= 0; });
		var buttons = offered.map(function(p) {
			return E('button', {
				'class': 'btn cbi-button-action', 'data-platform': p.id, 'style': 'margin: 0 .5em .5em 0',
				'disabled': (who.value && address) ? null : true,
				'click': ui.createHandlerFn(self, function() {
					var user;
					try { user = who.value(); }
					catch (err) {
						ui.addNotification(null, E('p', {}, [ _('No profile: %s').format(err.message) ]), 'error');
						return;
					}
					return self.fetchProfile(p.id, user);
				})
			}, [ PLATFORM_LABELS[p.id] || p.id ]);
		});
		var body = [
			E('h3', {}, [ _('Set up a device') ]),
			E('p', {}, [ _('Download a profile for each phone or computer: it holds the server address and the settings this server accepts.') ]),
			address ? who.node : E('p', {}, [ E('strong', {}, [ _('Every profile needs the server address: set it on the Settings page (General) first.') ]) ]),
			E('div', {}, buttons)
		];
		if (mode == 'psk')
			body.push(E('p', { 'class': 'cbi-value-description' }, [ _('Windows and the strongSwan app for Android cannot use a pre-shared key. To set them up, switch Authentication on the Settings page to users with passwords, or to certificates.') ]));
		return E('div', { 'class': 'cbi-section' }, body);
	},

	render: function(data) {
		var self = this, status = data[0] || {};
		// read-only access (the read part of the ACL): the status, no actions, no profiles
		// (they carry the key)
		this.readonly = L.hasViewPermission() === false;
		var view = E('div', {}, [
			E('h2', {}, [ _('IKEv2 VPN Server: Status') ]),
			E('div', { 'class': 'cbi-section', 'id': 'ikev2d-state' }, this.renderState(status)),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Connected devices') ]),
				E('div', { 'id': 'ikev2d-clients' }, this.renderClients(status.clients || [])) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Recent failed attempts') ]),
				E('div', { 'id': 'ikev2d-failures' }, this.renderFailures(status.failures || [])) ]),
			this.readonly ? '' : this.renderSetup()
		]);
		poll.add(function() { return self.refresh(); }, 5);
		return view;
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
