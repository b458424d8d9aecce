"""The models every process shares: events and their envelope, profiles, journey
transitions, segments, webhook payloads, privacy records. Part of the base: it imports no
process."""
