// The new-paste form's encrypt step: see the next commits.
