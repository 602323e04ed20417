"""Electronic licence library (电子证照库) and 亮证: licences the government holds for a person or
a company, shown to a verifier as a short-lived signed QR code.

Exports for other domains: ``services.held_licence_types`` (which licence type codes an account
holds, directly or through a company it represents) and ``LICENCE_TYPE_CODES``.
"""
