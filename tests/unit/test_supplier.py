"""The supplier of a mail (``extract.supplier``)."""

from __future__ import annotations

from appliance.extract.supplier import supplier_of


def test_the_signature_company_names_the_supplier():
    s = supplier_of("Prices below.\n\nBest regards,\nGreta Holm\nNordic Fasteners AB\n",
                    "Greta Holm", "greta@nf.example")  # fmt: skip
    assert (s.name, s.email) == ("Nordic Fasteners AB", "greta@nf.example")
    s = supplier_of("С уважением,\nИван Петров\nООО «Электроснаб»", "Иван", "ivan@es.example")
    assert s.name == "ООО «Электроснаб»"


def test_the_words_that_spell_the_domain_name_the_supplier():
    text = "Thank you for shopping at Paragon Sports. Visit ParagonSports.com again."
    assert supplier_of(text, None, "service@paragonsports.com").name == "Paragon Sports"
    assert supplier_of("Greetings from Amazon.com.", None, "ship@amazon.com").name == "Amazon.com"
    text = "Thanks for ordering from lucy.com! Write to yourfriends@lucy.com."
    assert supplier_of(text, None, "orders@lucy.com").name == "lucy.com"  # as written
    text = "Our intranet is at enron.com."  # a person's address: the domain names no shop
    assert supplier_of(text, None, "joya.davis@enron.com").name == "Joya Davis"


def test_a_forwarded_mail_names_its_own_sender():
    text = (
        "FYI\n---------------------- Forwarded by Chris Booth/NA/Enron on 09/13/2000\n\n"
        "lee.johnson@ss.ps.ge.com on 09/13/2000 06:00:59 AM\nTo: chris.booth@enron.com\n"
    )
    s = supplier_of(text, "Chris Booth", "chris.booth@enron.com")
    assert (s.name, s.email) == ("Lee Johnson", "lee.johnson@ss.ps.ge.com")
    quoted = "see below\n-----Original Message-----\nFrom: Anna Berg [mailto:anna@box.example]\n"
    assert supplier_of(quoted, "Tom", "tom@buyer.example").email == "anna@box.example"


def test_the_display_name_or_the_address_is_the_last_resort():
    assert supplier_of("Hi", "Tom Becker", "tom@x.example").name == "Tom Becker"
    assert supplier_of("Hi", None, "greg.blair@x.example").name == "Greg Blair"
    assert supplier_of("Hi", None, "info7@x.example").name is None


def test_a_forward_that_names_its_author_without_an_address_gives_that_author():
    notes = (
        "Here's the info you requested.\n\nJoya\n\n"
        "----- Forwarded by Joya Davis/HOU/ECT on 07/10/2000 09:15 AM -----\n\n"
        "\tReggie Wilson\n\t07/10/2000 08:32 AM\n\t\t To: Joya Davis/HOU/ECT@ECT\n\n"
        "Desk = $750. each\n\nThanks,\nReggie\n"
    )
    s = supplier_of(notes, None, "joya.davis@corp.example")
    assert (s.name, s.email) == ("Reggie Wilson", None)
    outlook = (
        "Here is the offer.\n\n -----Original Message-----\nFrom: \tBelden, Tim\n"
        "Sent:\tTuesday, September 25, 2001 4:07 PM\n\nOur offers below.\n"
    )
    s = supplier_of(outlook, None, "loretta.brooks@corp.example", forward=True)
    assert (s.name, s.email) == ("Tim Belden", None)
    # A reply's quoted header is the buyer's own mail, not a forwarded offer.
    s = supplier_of(outlook, "Loretta Brooks", "loretta.brooks@corp.example")
    assert (s.name, s.email) == ("Loretta Brooks", "loretta.brooks@corp.example")
