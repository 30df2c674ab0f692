'use strict';
'require baseclass';

// Text a client chose (its identity, the algorithms it offered) reaches the page from clients
// that never authenticated. Each such string is shown as one isolated piece of text: a <bdi>
// (its direction cannot reverse the text around it), broken anywhere when it must be (a long
// unbroken string cannot widen the page), cut at MAX_CHARS with the whole (visible) text in its title, and with
// control, bidi and invisible characters written out as [U+XXXX]. Always inside an array passed
// to E(), so it becomes a text node and never markup.

var MAX_CHARS = 64;
// C0/C1 controls, soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width and
// direction marks, line/paragraph separators, bidi embeddings/overrides/isolates, invisible
// operators, BOM, interlinear annotation marks
var HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

function visible(text) {
	return String(text == null ? '' : text).replace(HIDDEN, function(c) {
		return '[U+' + ('000' + c.charCodeAt(0).toString(16).toUpperCase()).slice(-4) + ']';
	});
}

function cut(text, max) {
	var chars = Array.from(text);  // code points: never split a surrogate pair
	return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : text;
}

return baseclass.extend({
	MAX_CHARS: MAX_CHARS,
	visible: visible,

	// One untrusted string as an isolated <bdi>; '' stays empty (no element at all).
	render: function(text, max) {
		var shown = visible(text);
		if (shown === '')
			return '';
		var short = cut(shown, max || MAX_CHARS);
		return E('bdi', {
			'class': 'ikev2d-untrusted',
			'style': 'overflow-wrap: anywhere',
			'title': short === shown ? null : shown
		}, [ short ]);
	}
});
