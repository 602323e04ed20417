"""Passkey e-signatures: signable documents, the signing ceremony, evidence anyone can verify."""
