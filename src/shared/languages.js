// The languages a paste can have: id (stored, in URLs), display name, download extension and
// highlight.js grammar. Shared by the server (src/pastes/code.js) and the browser, which
// loads the grammar of an encrypted paste's language by its name.

/** @typedef {{ id: string, name: string, ext: string, grammar: string | null }} LanguageInfo */

/** @type {readonly LanguageInfo[]} */
export const LANGUAGE_INFO = [
  { id: 'plaintext', name: 'Plain text', ext: 'txt', grammar: null },
  { id: 'bash', name: 'Bash', ext: 'sh', grammar: 'bash' },
  { id: 'c', name: 'C', ext: 'c', grammar: 'c' },
  { id: 'cpp', name: 'C++', ext: 'cpp', grammar: 'cpp' },
  { id: 'csharp', name: 'C#', ext: 'cs', grammar: 'csharp' },
  { id: 'css', name: 'CSS', ext: 'css', grammar: 'css' },
  { id: 'diff', name: 'Diff', ext: 'diff', grammar: 'diff' },
  { id: 'dockerfile', name: 'Dockerfile', ext: 'dockerfile', grammar: 'dockerfile' },
  { id: 'elixir', name: 'Elixir', ext: 'ex', grammar: 'elixir' },
  { id: 'go', name: 'Go', ext: 'go', grammar: 'go' },
  { id: 'haskell', name: 'Haskell', ext: 'hs', grammar: 'haskell' },
  { id: 'html', name: 'HTML / XML', ext: 'html', grammar: 'xml' },
  { id: 'ini', name: 'INI / TOML', ext: 'ini', grammar: 'ini' },
  { id: 'java', name: 'Java', ext: 'java', grammar: 'java' },
  { id: 'javascript', name: 'JavaScript', ext: 'js', grammar: 'javascript' },
  { id: 'json', name: 'JSON', ext: 'json', grammar: 'json' },
  { id: 'kotlin', name: 'Kotlin', ext: 'kt', grammar: 'kotlin' },
  { id: 'lua', name: 'Lua', ext: 'lua', grammar: 'lua' },
  { id: 'makefile', name: 'Makefile', ext: 'mk', grammar: 'makefile' },
  { id: 'markdown', name: 'Markdown', ext: 'md', grammar: 'markdown' },
  { id: 'nginx', name: 'Nginx', ext: 'conf', grammar: 'nginx' },
  { id: 'perl', name: 'Perl', ext: 'pl', grammar: 'perl' },
  { id: 'php', name: 'PHP', ext: 'php', grammar: 'php' },
  { id: 'python', name: 'Python', ext: 'py', grammar: 'python' },
  { id: 'r', name: 'R', ext: 'r', grammar: 'r' },
  { id: 'ruby', name: 'Ruby', ext: 'rb', grammar: 'ruby' },
  { id: 'rust', name: 'Rust', ext: 'rs', grammar: 'rust' },
  { id: 'scss', name: 'SCSS', ext: 'scss', grammar: 'scss' },
  { id: 'sql', name: 'SQL', ext: 'sql', grammar: 'sql' },
  { id: 'swift', name: 'Swift', ext: 'swift', grammar: 'swift' },
  { id: 'typescript', name: 'TypeScript', ext: 'ts', grammar: 'typescript' },
  { id: 'yaml', name: 'YAML', ext: 'yaml', grammar: 'yaml' },
]
