"""Remote identity verification (远程身份核验): selfie, identity document, image checks in the
worker, an officer's decision, the counter fallback (docs/identity.md)."""
