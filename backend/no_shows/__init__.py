"""No-show rules, visible and contestable: the GraphQL face of booking's no-show service
(:mod:`backend.booking.service.no_shows`); the contests' table is booking's."""
