"""Channel adapters: one delivery contract, one module per provider."""
