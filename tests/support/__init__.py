"""Real test peers on loopback: DNS server, Postfix instances, scripted SMTP peers, test CA."""
