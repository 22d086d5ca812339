"""Booking on referral (запись по направлению): the GraphQL face of booking's referral service
(:mod:`backend.booking.service.referrals`); the referrals' table is booking's."""
