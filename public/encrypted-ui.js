// The browser pieces the encrypted pages and forms share: the decryption start-up of an
// encrypted paste's page and of its edit page (encrypted-page.js, encrypted-edit.js), and the
// error alert of the forms that send an envelope (encrypt-form.js, encrypted-edit.js). Served
// under /static/m/<hash>/ with the modules that import it (src/pastes/BrowserModules.ts).
import { checkKey, decryptPaste, DecryptError, needsPassword, parseFragment } from './shared/pasteCrypto.js';

/**
 * Shows `message` before `form` in an alert (made on the first failure, reused after), prefixed
 * with `lead`, and tells public/app.js to unlock the form. Returns the function that does it.
 */
export const formAlert = (form, lead) => {
  let alert = null;
  return (message) => {
    if (!alert) {
      alert = document.createElement('div');
      alert.className = 'alert alert-error';
      alert.setAttribute('role', 'alert');
      alert.appendChild(document.createElement('p'));
      form.before(alert);
    }
    alert.firstChild.textContent = `${lead} ${message}`;
    // public/app.js unlocks the form.
    form.dispatchEvent(new CustomEvent('redbin:send-failed'));
  };
};

const $ = (id) => document.getElementById(id);

/**
 * Decrypts the page's #envelope with the key in the link's fragment, asking for the password
 * (with `passwordPrompt`) when the paste has one, then hands the paste to
 * `open(paste, key, envelope, password)`. Every step and failure is said in #decrypt-status.
 */
export const decryptOnPage = async ({ passwordPrompt, open }) => {
  const status = $('decrypt-status');
  const passwordForm = $('password-form');
  const passwordInput = $('paste-password');

  const say = (message, tone) => {
    status.className = tone ? `alert alert-${tone}` : 'alert';
    status.setAttribute('role', tone === 'error' ? 'alert' : 'status');
    status.firstElementChild.textContent = message;
    status.hidden = false;
  };

  const failed = (err) => {
    // Every failure is a sentence on the page, never a console error or a blank page.
    say(err instanceof DecryptError ? err.message : `This paste could not be decrypted in this browser (${err && err.message ? err.message : err}).`, 'error');
  };

  const askPassword = (envelope, key) => {
    say(passwordPrompt);
    passwordForm.hidden = false;
    passwordInput.focus();
    const submit = passwordForm.querySelector('button');
    passwordForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      say('Decrypting…');
      try {
        const password = passwordInput.value;
        await open(await decryptPaste(envelope, key, password), key, envelope, password);
      } catch (err) {
        if (err instanceof DecryptError && err.reason === 'wrong-password') {
          say('That password is not the right one for this paste. Try again.', 'error');
          passwordForm.hidden = false;
          passwordInput.select();
        } else {
          failed(err);
        }
      } finally {
        submit.disabled = false;
      }
    });
  };

  if (!window.crypto || !window.crypto.subtle) {
    // Browsers give WebCrypto only to HTTPS pages (and localhost).
    say('This paste is encrypted, and this browser can only decrypt it over a secure connection: open the link with https://.', 'error');
    return;
  }
  let envelope;
  try {
    envelope = JSON.parse($('envelope').textContent);
  } catch {
    say("This paste's encrypted data is damaged: it is not JSON.", 'error');
    return;
  }
  const { key } = parseFragment(window.location.hash);
  try {
    const checked = await checkKey(envelope, key);
    if (needsPassword(checked)) {
      askPassword(checked, key);
      return;
    }
    say('Decrypting…');
    await open(await decryptPaste(checked, key), key, checked);
  } catch (err) {
    failed(err);
  }
};
