"""Appointments and queue numbers: centres, slots, bookings, tickets, the wait board."""
