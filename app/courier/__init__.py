"""Courier service (快递办): pickups of originals, deliveries of licences, the courier PWA."""
