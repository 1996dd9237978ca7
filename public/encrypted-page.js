// The encrypted paste page's script: see the next commit.
