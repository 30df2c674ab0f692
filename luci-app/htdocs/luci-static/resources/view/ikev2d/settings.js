'use strict';
'require view';
'require form';
'require uci';
'require ui';
'require ikev2d.schema as schemamod';

// Every field comes from the daemon's option schema (ikev2d/schema.js, generated from
// ikev2d.policy.schema): names, datatypes, choices and defaults cannot drift from what the
// daemon validates.
var SCHEMA = schemamod.schema;

var TABS = {
	general: [ 'enabled', 'wan_interface', 'server_address' ],
	auth: [ 'auth_mode', 'psk', 'allow_weak_psk', 'local_id_type', 'local_id',
		'remote_id_type', 'remote_id' ],
	network: [ 'pool', 'dns', 'local_subnet', 'masquerade' ],
	proposals: [ 'ike_proposal', 'esp_proposal', 'legacy_proposals' ],
	advanced: [ 'listen', 'port', 'natt_port', 'ike_lifetime', 'child_lifetime',
		'child_lifetime_bytes', 'dpd_delay', 'retransmit_timeout', 'retransmit_tries',
		'cookie_threshold', 'max_half_open', 'max_half_open_per_ip', 'mobike',
		'fragmentation', 'fragment_size', 'log_level', 'control_socket', 'state_dir' ]
};
var USER_COLUMNS = [ 'name', 'password', 'ip', 'enabled' ];
var PSK_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function schemaOption(section, name) {
	for (var i = 0; i < SCHEMA.options.length; i++)
		if (SCHEMA.options[i].section == section && SCHEMA.options[i].name == name)
			return SCHEMA.options[i];
	throw new Error('option ' + section + '.' + name + ' is not in the schema');
}

function generatePsk(length) {
	var bytes = new Uint8Array(length), out = '';
	window.crypto.getRandomValues(bytes);
	for (var i = 0; i < length; i++)
		out += PSK_ALPHABET.charAt(bytes[i] % PSK_ALPHABET.length);  // 57 symbols: bias < 2 %
	return out;
}

function pskStrength(value) {
	var classes = 0;
	[ /[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/ ].forEach(function(re) { if (re.test(value)) classes++; });
	if (value.length < 20 || classes < 2)
		return _('weak');
	return (value.length >= 32 && classes >= 3) ? _('strong') : _('fair');
}

function validateProposal(section_id, value) {
	if (value == null || value === '')
		return true;
	var known = [];
	Object.keys(SCHEMA.keywords).forEach(function(k) { known = known.concat(SCHEMA.keywords[k]); });
	var parts = String(value).toLowerCase().split('-');
	for (var i = 0; i < parts.length; i++)
		if (known.indexOf(parts[i]) < 0)
			return _('Unknown algorithm "%s"').format(parts[i]);
	return true;
}

// One widget per schema option, with the schema's datatype, choices, default and help.
function addOption(s, tab, section, name) {
	var o = schemaOption(section, name), widget;
	if (o.type == 'bool')
		widget = form.Flag;
	else if (o.choices.length)
		widget = form.ListValue;
	else if (o.list)
		widget = form.DynamicList;
	else
		widget = form.Value;
	var title = o.name.replace(/_/g, ' ');
	title = title.charAt(0).toUpperCase() + title.slice(1);
	var opt = tab ? s.taboption(tab, widget, o.name, _(title), _(o.help))
		: s.option(widget, o.name, _(title), _(o.help));
	if (o.datatype && o.type != 'bool')
		opt.datatype = o.datatype;
	o.choices.forEach(function(c) { opt.value(c); });
	if (o.type == 'bool') {
		opt.default = o.uci_default;
		opt.rmempty = false;
	}
	else if (o.uci_default != null && !o.list) {
		opt.default = o.uci_default;
	}
	if (!o.choices.length && o.type != 'bool')
		opt.placeholder = Array.isArray(o.uci_default) ? o.uci_default.join(' ')
			: (o.uci_default != null ? o.uci_default : o.default_doc);
	if (o.secret)
		opt.password = true;
	if (o.type == 'proposal')
		opt.validate = validateProposal;
	return opt;
}

return view.extend({
	load: function() {
		return uci.load('ikev2d');
	},

	renderAuth: function(s) {
		var psk = s.children.filter(function(o) { return o.option == 'psk'; })[0];
		psk.depends('auth_mode', 'psk');
		psk.description = _('At least 20 characters; 32 random ones are best.') + ' '
			+ _('It is shown to anyone who sets up a client: share it privately.');
		psk.validate = function(section_id, value) {
			var hint = document.getElementById('ikev2d-psk-strength');
			if (hint)
				hint.textContent = value ? _('Strength: %s').format(pskStrength(value)) : '';
			return true;  // the datatype (minlength) and the daemon decide
		};
		var gen = s.taboption('auth', form.Button, '_psk_generate', _('Generate key'));
		gen.inputtitle = _('Generate a random key');
		gen.inputstyle = 'action';
		gen.depends('auth_mode', 'psk');
		gen.onclick = function(ev, section_id) {
			var el = this.map.lookupOption('psk', section_id)[0].getUIElement(section_id);
			el.setValue(generatePsk(32));
			el.triggerValidation && el.triggerValidation();
		};
		var hint = s.taboption('auth', form.DummyValue, '_psk_strength', _('Key strength'));
		hint.depends('auth_mode', 'psk');
		hint.rawhtml = true;
		hint.cfgvalue = function() { return '<span id="ikev2d-psk-strength"></span>'; };
		s.children.filter(function(o) { return o.option == 'allow_weak_psk'; })[0]
			.depends('auth_mode', 'psk');
		s.children.filter(function(o) { return o.option == 'remote_id'; })[0]
			.depends({ remote_id_type: 'any', '!reverse': true });
	},

	renderProposals: function(s) {
		var preset = s.taboption('proposals', form.ListValue, '_preset', _('Preset'),
			_('Fills both lists below; choose "custom" to edit them freely.'));
		SCHEMA.presets.forEach(function(p) { preset.value(p.id, p.label); });
		preset.value('custom', _('custom'));
		preset.cfgvalue = function(section_id) {
			var ike = L.toArray(uci.get('ikev2d', section_id, 'ike_proposal')).join(' ');
			var esp = L.toArray(uci.get('ikev2d', section_id, 'esp_proposal')).join(' ');
			for (var i = 0; i < SCHEMA.presets.length; i++)
				if (SCHEMA.presets[i].ike.join(' ') == ike && SCHEMA.presets[i].esp.join(' ') == esp)
					return SCHEMA.presets[i].id;
			return (ike || esp) ? 'custom' : 'default';
		};
		preset.write = preset.remove = function() {};  // only a helper for the two lists
		preset.onchange = function(ev, section_id, value) {
			var p = SCHEMA.presets.filter(function(x) { return x.id == value; })[0];
			if (!p)
				return;
			this.map.lookupOption('ike_proposal', section_id)[0].getUIElement(section_id).setValue(p.ike);
			this.map.lookupOption('esp_proposal', section_id)[0].getUIElement(section_id).setValue(p.esp);
		};
		// keep the preset first on the tab
		s.children.splice(s.children.indexOf(preset), 1);
		var first = s.children.filter(function(o) { return o.option == 'ike_proposal'; })[0];
		s.children.splice(s.children.indexOf(first), 0, preset);
		var legacy = s.children.filter(function(o) { return o.option == 'legacy_proposals'; })[0];
		legacy.description = _('Lets Windows connect with its built-in defaults: MODP1024 (a 1024-bit Diffie-Hellman group that well-funded attackers can break), SHA-1 and 3DES. Prefer the Windows PowerShell profile from the Status page, which sets strong algorithms instead.');
	},

	render: function() {
		var m = new form.Map('ikev2d', _('IKEv2 VPN Server'),
			_('An IKEv2/IPsec server for the phones and laptops built-in VPN clients. Save & Apply, then download client profiles on the Status page.'));
		var s = m.section(form.NamedSection, 'server', 'ikev2d', _('Server'));
		s.addremove = false;
		s.tab('general', _('General'));
		s.tab('auth', _('Authentication'));
		s.tab('network', _('Network'));
		s.tab('proposals', _('Proposals'));
		s.tab('advanced', _('Advanced'));
		Object.keys(TABS).forEach(function(tab) {
			TABS[tab].forEach(function(name) { addOption(s, tab, 'server', name); });
		});
		this.renderAuth(s);
		this.renderProposals(s);
		var lan = s.children.filter(function(o) { return o.option == 'local_subnet'; })[0];
		lan.description += ' ' + _('Empty: the LAN. 0.0.0.0/0: full tunnel (then enable masquerade).');

		var u = m.section(form.GridSection, 'user', _('Users'),
			_('Logins for authentication mode "eap" (user name and password).'));
		u.anonymous = true;
		u.addremove = true;
		u.sortable = true;
		USER_COLUMNS.forEach(function(name) { addOption(u, null, 'user', name); });
		return m.render();
	}
});
