"""Identity and access: roles, permissions, and who the caller is."""
