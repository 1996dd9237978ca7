// The edit page of an encrypted paste. The server sends the latest revision's envelope and an
// empty, disabled form; this script decrypts the envelope with the key in the link's fragment
// (and the password, when the paste has one), fills the form, and on Save encrypts the new text
// again under the same key and password (fresh salt and IV), so every link already shared opens
// the new revision. Only the envelope is sent, as PUT /<id>/edit with If-Match; the text, the
// key and the password never leave the browser.
import { ciphertextSize, encryptPaste, formatFragment, linkWithKey, parseFragment } from './shared/pasteCrypto.js';
import { decryptOnPage, formAlert } from './encrypted-ui.js';

const $ = (id) => document.getElementById(id);
const form = $('paste-form');
const fieldset = $('edit-fields');
const status = $('decrypt-status');
const passwordForm = $('password-form');

const fields = form && form.elements;
const editor = fields && fields.namedItem('content');
const titleField = fields && fields.namedItem('title');
const language = fields && fields.namedItem('language');

/** Fills the form with the decrypted paste and arms Save; `password` is the one it was opened with. */
const edit = (envelope, key, paste, password) => {
  editor.value = paste.content;
  titleField.value = paste.title;
  language.value = [...language.options].some((o) => o.value === paste.language) ? paste.language : 'auto';
  status.hidden = true;
  passwordForm.hidden = true;
  fieldset.disabled = false;
  // public/app.js counts the bytes on input.
  editor.dispatchEvent(new Event('input', { bubbles: true }));
  editor.focus();

  const fail = formAlert(form, 'Your edit was not saved.');

  const send = async () => {
    const next = { content: editor.value, title: titleField.value.trim(), language: language.value };
    if (!/\S/.test(next.content)) return fail('content is empty');
    const limit = Number(form.dataset.maxBytes);
    const size = ciphertextSize(next);
    if (limit && size > limit) return fail(`Encrypted, it would be ${size} bytes; the limit is ${limit} bytes.`);
    const { envelope: sealed } = await encryptPaste(next, {
      key,
      ...(envelope.kdf ? { password, iterations: envelope.kdf.iterations } : {}),
    });
    const token = fields.namedItem('token');
    let res;
    try {
      res = await fetch(`/${form.dataset.id}/edit`, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          // Two editors never overwrite each other: a stale revision is a 409 naming the latest.
          'if-match': `"${form.dataset.revision}"`,
          // Without the creator's cookie, the token from the form (one secret serves delete and edit).
          ...(token && token.value ? { authorization: `Bearer ${token.value}` } : {}),
        },
        body: JSON.stringify({ envelope: sealed }),
      });
    } catch {
      return fail('The server could not be reached; try again in a moment.');
    }
    const text = await res.text().catch(() => '');
    if (res.status === 200) {
      window.location.assign(`/${form.dataset.id}#${formatFragment(key)}`);
      return;
    }
    let message = text.trim();
    try {
      message = JSON.parse(text).error || message;
    } catch {
      // Not JSON: the error's line of text.
    }
    fail(message || `The server answered ${res.status}.`);
  };

  const start = () => send().catch((err) => fail(`It could not be encrypted in this browser (${err && err.message ? err.message : err}).`));
  // public/app.js asks before a form leaves (secrets warning, then locks it) and cancels this
  // event's default: the form is never posted, this script sends the envelope instead.
  form.addEventListener('redbin:send', (event) => {
    event.preventDefault();
    start();
  });
  // Should app.js not have handled the submit, the text must still never be posted as a form.
  form.addEventListener('submit', (event) => {
    if (event.defaultPrevented) return;
    event.preventDefault();
    start();
  });
};

if (form && fieldset && status) {
  // public/app.js has already taken hold of the editor by its name. Without names, the private
  // fields could not be posted even by a submit that bypasses this script (form.submit() in an
  // older browser's Ctrl+Enter): the server would get no text, title or language.
  for (const field of [editor, titleField, language]) field.removeAttribute('name');
  // The page's other links to this paste keep the key, as on its page.
  const { key } = parseFragment(window.location.hash);
  if (key) {
    for (const link of document.querySelectorAll('a[data-keep-key]')) link.href = linkWithKey(link.getAttribute('href'), key);
  }
  decryptOnPage({
    passwordPrompt: 'This paste is protected with a password. Enter it to decrypt the paste and edit it.',
    open: (paste, key, envelope, password) => edit(envelope, key, paste, password),
  });
}
