'use strict';
'require view';
'require rpc';
'require poll';
'require ui';
'require uci';
'require dom';

// Every string that comes from a client (identity, address, algorithms, failure text) goes
// into E() inside an array, which LuCI turns into a text node; a bare string child would be
// parsed as HTML.

var callStatus = rpc.declare({ object: 'ikev2d', method: 'status', expect: { '': {} } });
var callDisconnect = rpc.declare({ object: 'ikev2d', method: 'disconnect', params: [ 'target' ] });
var callProfile = rpc.declare({ object: 'ikev2d', method: 'profile', params: [ 'platform', 'user' ] });

var PLATFORMS = [
	{ id: 'ios', label: 'iPhone / iPad (.mobileconfig)' },
	{ id: 'macos', label: 'macOS (.mobileconfig)' },
	{ id: 'windows', label: 'Windows (PowerShell script)' },
	{ id: 'android-sswan', label: 'Android, strongSwan app (.sswan)' },
	{ id: 'android', label: 'Android built-in client (setup card)' }
];

function fmtBytes(n) {
	var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;
	n = Number(n) || 0;
	while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
	return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

function fmtSince(ts) {
	var secs = Math.max(0, Math.floor(Date.now() / 1000 - Number(ts || 0)));
	var h = Math.floor(secs / 3600), m = Math.floor(secs % 3600 / 60);
	return h ? _('%dh %dm').format(h, m) : _('%dm %ds').format(m, secs % 60);
}

// The daemon records why an attempt failed in IKE terms; say what to do about it.
function explainFailure(reason) {
	reason = String(reason || '');
	var offer = (reason.match(/no acceptable (?:IKE|ESP) proposal in (.*)$/) || [])[1] || '';
	if (/no acceptable IKE proposal/.test(reason) && /modp1024/.test(offer) && !/modp2048|ecp|curve/.test(offer))
		return _('A Windows client offered only MODP1024 (weak): enable legacy proposals, or run the Windows PowerShell profile below.');
	if (/no acceptable ESP proposal/.test(reason) && /sha1/.test(offer) && !/sha256|gcm|chacha/.test(offer))
		return _('The client offered only SHA-1 for the tunnel (Windows defaults): enable legacy proposals, or run the Windows PowerShell profile below.');
	if (/no acceptable (IKE|ESP) proposal/.test(reason))
		return _('The client offered algorithms the server does not accept (%s): import a profile from below, or choose a matching preset under Proposals.').format(offer || '?');
	if (/wrong pre-shared key/.test(reason))
		return _('The client used a wrong pre-shared key.');
	if (/EAP authentication is not enabled/.test(reason))
		return _('The client asked to log in with a user name and password (EAP), but the server uses a pre-shared key: set the client to pre-shared key, or switch Authentication to users.');
	if (/not accepted by remote_id/.test(reason))
		return _('The client identity is not the remote ID the server requires (Authentication → Remote ID).');
	if (/pre-shared key was expected/.test(reason))
		return _('The client authenticated with a certificate or EAP, but the server expects a pre-shared key.');
	if (/no pre-shared key is configured/.test(reason))
		return _('No pre-shared key is set on the server.');
	return reason;
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

return view.extend({
	load: function() {
		return Promise.all([ callStatus(), uci.load('ikev2d') ]);
	},

	disconnect: function(identity, ev) {
		var self = this;
		ui.showModal(_('Disconnect client'), [
			E('p', {}, [ _('Disconnect %s? The client may reconnect by itself.').format(identity) ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, [ _('Cancel') ]), ' ',
				E('button', { 'class': 'btn cbi-button-negative', 'click': function() {
					ui.hideModal();
					return callDisconnect(identity).then(function(res) {
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
		var state = document.getElementById('ikev2d-state'),
		    clients = document.getElementById('ikev2d-clients'),
		    failures = document.getElementById('ikev2d-failures');
		if (state)
			dom.content(state, this.renderState(status));
		if (clients)
			dom.content(clients, this.renderClients(status.clients || []));
		if (failures)
			dom.content(failures, this.renderFailures(status.failures || []));
	},

	renderState: function(status) {
		if (!status.running)
			return [ E('em', {}, [ _('The VPN server is not running.') ]) ];
		return [ _('Running (PID %d), %d client(s) connected.').format(status.pid || 0, (status.clients || []).length) ];
	},

	renderClients: function(clients) {
		var self = this;
		var rows = [ E('tr', { 'class': 'tr table-titles' }, [
			_('Identity'), _('Virtual IP'), _('From'), _('Connected for'), _('Received'),
			_('Sent'), _('Algorithms'), ''
		].map(function(t) { return E('th', { 'class': 'th' }, [ t ]); })) ];
		clients.forEach(function(c) {
			var from = String(c.remote || '') + (c.nat ? ' (NAT)' : '');
			var algos = [ c.ike, c.esp ].filter(function(x) { return x; }).join(' / ');
			rows.push(E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, [ String(c.identity || '') ]),
				E('td', { 'class': 'td' }, [ String(c.virtual_ip || '') ]),
				E('td', { 'class': 'td' }, [ from ]),
				E('td', { 'class': 'td' }, [ fmtSince(c.since) ]),
				E('td', { 'class': 'td' }, [ fmtBytes(c.bytes_in) ]),
				E('td', { 'class': 'td' }, [ fmtBytes(c.bytes_out) ]),
				E('td', { 'class': 'td' }, [ algos ]),
				E('td', { 'class': 'td cbi-section-actions' }, [
					E('button', {
						'class': 'btn cbi-button-remove',
						'click': ui.createHandlerFn(self, 'disconnect', String(c.identity || c.virtual_ip || ''))
					}, [ _('Disconnect') ])
				])
			]));
		});
		if (!clients.length)
			rows.push(E('tr', { 'class': 'tr placeholder' }, [
				E('td', { 'class': 'td', 'colspan': '8' }, [ E('em', {}, [ _('No clients connected.') ]) ])
			]));
		return [ E('table', { 'class': 'table' }, rows) ];
	},

	renderFailures: function(failures) {
		if (!failures.length)
			return [ E('em', {}, [ _('No failed attempts recently.') ]) ];
		return [ E('ul', {}, failures.slice(-10).reverse().map(function(f) {
			var when = new Date(Number(f.time || 0) * 1000).toLocaleString();
			var who = f.identity ? String(f.identity) + ' (' + String(f.remote || '') + ')' : String(f.remote || '');
			return E('li', {}, [ when + ' — ' + who + ': ', E('strong', {}, [ explainFailure(f.reason) ]) ]);
		})) ];
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
				E('td', { 'class': 'td left' }, [ E('code', {}, [ String(f.value) ]) ])
			]);
		});
		var body = [ E('p', {}, [ _('Settings → Network → VPN → Add. Enter:') ]),
			E('table', { 'class': 'table' }, rows) ];
		(card.warnings || []).forEach(function(w) {
			body.push(E('p', { 'class': 'alert-message warning' }, [ String(w) ]));
		});
		if (card.qr_svg)  // an <img> never runs script, whatever the SVG holds
			body.push(E('img', { src: 'data:image/svg+xml;base64,' + card.qr_svg, alt: _('QR code'), width: '228', height: '228' }));
		body.push(E('div', { 'class': 'right' }, [ E('button', { 'class': 'btn', 'click': ui.hideModal }, [ _('Close') ]) ]));
		ui.showModal(_('Android built-in VPN'), body);
	},

	renderSetup: function() {
		var self = this, mode = uci.get('ikev2d', 'server', 'auth_mode') || 'psk';
		var users = uci.sections('ikev2d', 'user').filter(function(s) { return s.enabled != '0' && s.name; })
			.map(function(s) { return s.name; });
		var select = E('select', { 'class': 'cbi-input-select', 'id': 'ikev2d-profile-user' },
			(mode == 'eap' ? users : [ '' ]).map(function(n) { return E('option', { value: n }, [ n || _('(any client)') ]); }));
		var buttons = PLATFORMS.map(function(p) {
			return E('button', {
				'class': 'btn cbi-button-action', 'data-platform': p.id, 'style': 'margin: 0 .5em .5em 0',
				'click': ui.createHandlerFn(self, function() { return self.fetchProfile(p.id, select.value); })
			}, [ p.label ]);
		});
		return E('div', { 'class': 'cbi-section' }, [
			E('h3', {}, [ _('Client setup') ]),
			E('p', {}, [ _('A profile for each device: it carries the server address, identities and algorithms this server accepts.') ]),
			E('p', {}, [ mode == 'eap' ? _('Profile for user:') + ' ' : '', mode == 'eap' ? select : '' ]),
			E('div', {}, buttons)
		]);
	},

	render: function(data) {
		var self = this, status = data[0] || {};
		var view = E('div', {}, [
			E('h2', {}, [ _('IKEv2 VPN Server: Status') ]),
			E('div', { 'class': 'cbi-section' }, [ E('p', { 'id': 'ikev2d-state' }, this.renderState(status)) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Connected clients') ]),
				E('div', { 'id': 'ikev2d-clients' }, this.renderClients(status.clients || [])) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Recent failed attempts') ]),
				E('div', { 'id': 'ikev2d-failures' }, this.renderFailures(status.failures || [])) ]),
			this.renderSetup()
		]);
		poll.add(function() { return self.refresh(); }, 5);
		return view;
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
