"""Catalogue and people data of the synthetic supplier-mail generator (``finetune.synth``).

Products per domain and language. A product is one compact line:
``P(name, brands, sku, unit, (price_lo, price_hi), (qty_lo, qty_hi), dims, weight)``:
- ``name`` may hold choices ``{a|b|c}`` (one is drawn per mail); no length or weight units in
  names (a stated dimension would have to be labelled), other numbers (M8x40, 3х2,5, 80 g/m²)
  are welcome distractors;
- ``brands`` "A|B" (empty: none), ``sku`` a pattern (``#`` digit, ``@`` capital letter, empty:
  none), ``unit`` a key of ``UNITS_EN``/``UNITS_RU``;
- price range in EUR per unit (converted for other currencies), quantity range;
- ``dims`` "LxWxH|LxW|L…" alternatives in mm (``-`` for a missing axis), ``weight`` "lo-hi kg"
  or "lo-hi g".
"""

from __future__ import annotations

from typing import NamedTuple


class P(NamedTuple):
    """One catalogue product (see the module docstring)."""

    name: str
    brands: str
    sku: str
    unit: str
    price: tuple[float, float]
    qty: tuple[int, int]
    dims: str = ""
    weight: str = ""


CATALOGUE_EN: dict[str, list[P]] = {
    "fasteners": [
        P("Hex bolt DIN 933 {M6|M8|M10|M12}x{30|40|50|60}, zinc plated", "Würth|Bossard|Fabory",
          "933-###-##", "pcs", (0.05, 0.6), (500, 20000)),
        P("Hex nut DIN 934 {M6|M8|M10|M12}, A2 stainless", "Reyher|Bossard", "934-A2-###", "pcs",
          (0.03, 0.3), (1000, 20000)),
        P("Wood screw {4x40|5x50|5x70|6x80} Torx, yellow zinc", "SPAX|Würth|Heco", "####-###",
          "box", (6.0, 28.0), (10, 400)),
        P("Nylon wall plug {DuoPower|UX|SX Plus} {6x30|8x40|10x50}", "fischer|TOX", "5#####", "box",
          (4.0, 19.0), (20, 500)),
        P("Threaded rod DIN 976 {M8|M10|M12}, zinc plated", "Fabory|Würth", "976-##-####", "pcs",
          (0.9, 4.5), (100, 3000), "1000-|2000-|3000-"),
        P("Flat washer DIN 125 {M8|M10|M12|M16}", "Bossard|Reyher", "125-###", "kg", (3.0, 9.0),
          (25, 500)),
        P("Blind rivet {4.0x10|4.8x12|4.8x16} alu/steel", "GESIPA|POP", "14#####", "box",
          (9.0, 35.0), (10, 200)),
        P("Wedge anchor {M10x100|M12x120|M8x75}", "Hilti|Sormat|fischer", "@@-####", "pcs",
          (0.6, 2.8), (200, 5000)),
    ],
    "packaging": [
        P("Corrugated box, {3|5}-ply, brown", "Smurfit Kappa|DS Smith", "CB-####", "pcs",
          (0.4, 2.6), (500, 20000), "600x400x400|400x300x300|300x200x150|500x400x300",
          "250-900 g"),
        P("Stretch film {17|20|23} µm, hand roll", "Duo Plast|Manuli", "SF-##-###", "roll",
          (5.0, 14.0), (50, 2000), "", "2.0-2.6 kg"),
        P("Packing tape PP, {transparent|brown}, low noise", "tesa|3M Scotch", "####-##", "roll",
          (0.9, 3.2), (360, 7200)),
        P("Mailing bag {C4|C5|B4}, white, self-seal", "Mailmaster|Jiffy", "MB-####", "box",
          (18.0, 55.0), (10, 300)),
        P("Strapping band PET {12x0.6|16x0.8|19x1.0}, green", "Cyklop|Mosca", "PET-###", "roll",
          (28.0, 69.0), (10, 200), "", "18-22 kg"),
        P("Pallet box, heavy duty double wall", "Smurfit Kappa|Mondi", "PB-###", "pcs",
          (8.0, 24.0), (50, 1000), "1200x800x800|1150x750x700", "6-9 kg"),
        P("Edge protector, cardboard, {35x35|50x50} x 3", "Mondi|DS Smith", "EP-####", "pcs",
          (0.15, 0.7), (1000, 20000), "1000-|1200-|1500-"),
    ],
    "cable": [
        P("Power cable NYM-J {3x1.5|3x2.5|5x2.5|5x4}", "Lapp|Nexans|Prysmian|Faber", "NYM-###-##",
          "m", (0.6, 3.8), (100, 5000)),
        P("Control cable ÖLFLEX CLASSIC 110 {3G0.75|4G1.5|7G1.5}", "Lapp", "1119###", "m",
          (0.9, 4.9), (100, 3000)),
        P("Patch cable Cat6 U/UTP LSZH, {grey|blue|green}", "Digitus|Roline|Lanberg", "DK-1###-##",
          "pcs", (1.2, 4.8), (50, 2000), "2000-|3000-|5000-"),
        P("Cable tie {4.8x300|3.6x200|7.6x450}, black, UV resistant", "HellermannTyton|Panduit",
          "T##R-###", "pack", (2.4, 14.0), (20, 1000)),
        P("Coaxial cable RG-6, white, 75 Ohm", "Belden|Triax", "RG6-###", "m", (0.3, 1.2),
          (100, 3000)),
        P("Solar cable H1Z2Z2-K 1x{4|6|10}, black", "Lapp|Helukabel", "H1Z-##-###", "m",
          (0.7, 2.6), (500, 10000)),
        P("Cable drum stand, steel", "Kabeltrommel|Lapp", "CDS-###", "pcs", (45.0, 160.0),
          (2, 40), "800x600x900", "14-28 kg"),
    ],
    "furniture": [
        P("Ergonomic office chair {ErgoPro 300|Comfort Plus|Flex Mesh}",
          "Kinnarps|Steelcase|Interstuhl", "EP-###", "pcs", (120.0, 480.0), (5, 120),
          "650x650x1200|700x680x1150", "14-21 kg"),
        P("Standing desk, electric, {oak|white|walnut} decor", "Kinnarps|Kettal|Ergotopia",
          "SD-####", "pcs", (290.0, 890.0), (2, 60), "1600x800x720|1400x700x720|1800x800x720",
          "35-48 kg"),
        P("Steel shelving unit, {4|5|6} shelves, galvanised", "Meta|Kasten|Fami", "SU-####", "pcs",
          (45.0, 190.0), (5, 200), "1000x400x2000|900x450x1800|1200x500x2000", "18-36 kg"),
        P("Filing cabinet, 4 drawers, {grey|anthracite}", "Bisley|Lista", "FC-###", "pcs",
          (180.0, 520.0), (2, 40), "470x620x1320", "38-55 kg"),
        P("Conference table, {white|beech|oak}", "Kinnarps|Sedus", "CT-####", "pcs",
          (390.0, 1400.0), (1, 10), "2400x1200x740|2000x1000x740", "60-85 kg"),
        P("Steel clothes locker, {2|3|4} doors", "Bisley|Lista|Meta", "LK-###", "pcs",
          (140.0, 420.0), (4, 80), "600x500x1800|900x500x1800", "25-45 kg"),
    ],
    "electronics": [
        P("Ceramic capacitor 100nF 50V X7R 0805", "Murata|KEMET|Yageo", "GRM21BR71H104K@##@",
          "pcs", (0.004, 0.03), (4000, 100000)),
        P("Thick film resistor {10k|4.7k|100R} 1% 0603", "Yageo|Vishay|Panasonic",
          "RC0603FR-07##K@", "pcs", (0.002, 0.02), (5000, 100000)),
        P("Microcontroller STM32F103C8T6, LQFP48", "STMicroelectronics", "STM32F103C8T6", "pcs",
          (1.8, 5.5), (100, 5000)),
        P("Schottky diode {1N5819|SS34|BAT54S}", "onsemi|Vishay|Diodes Inc", "", "pcs",
          (0.02, 0.25), (1000, 50000)),
        P("Relay {24VDC|12VDC} SPDT 10A, PCB mount", "Finder|Omron|TE Connectivity",
          "40.52.9.0##.0000", "pcs", (1.9, 6.5), (100, 5000)),
        P("Push-in terminal block PT 2,5, grey", "Phoenix Contact|WAGO", "32095##", "pcs",
          (0.35, 1.2), (500, 10000)),
        P("USB-C receptacle 16-pin, SMD", "GCT|Amphenol|Molex", "USB4###-GF-@", "pcs",
          (0.25, 1.1), (1000, 20000)),
    ],
    "office": [
        P("Copy paper A4, 80 g/m², white", "Navigator|Double A|Xerox", "NAV-####", "box",
          (18.0, 32.0), (20, 600)),
        P("Ballpoint pen, {blue|black}, retractable", "BIC|Schneider|Pilot", "BP-####", "box",
          (4.0, 14.0), (20, 400)),
        P("Lever arch file A4, {blue|black|red}", "Leitz|Esselte", "1010-##-##", "pcs",
          (1.4, 4.2), (100, 2000)),
        P("Sticky notes 76x76, yellow, 12 pads", "Post-it|Stabilo", "654-###", "pack",
          (5.0, 12.0), (20, 500)),
        P("Toner cartridge {59A|26X|87A}, black", "HP|Katun", "CF2##@", "pcs", (45.0, 160.0),
          (5, 120)),
        P("Whiteboard marker set, 4 colours", "Edding|Staedtler", "ED-###-#", "set", (3.5, 9.0),
          (20, 500)),
    ],
    "pallets": [
        P("EUR pallet EPAL 1, new, heat treated", "EPAL", "EPAL-1", "pcs", (9.0, 17.0),
          (100, 3000), "1200x800x144", "20-25 kg"),
        P("Industrial pallet, {new|used grade A}, 9 blocks", "", "IP-####", "pcs", (7.0, 16.0),
          (100, 2000), "1200x1000x144", "24-32 kg"),
        P("Plastic pallet HDPE, 4-way entry, {nestable|rackable}", "Craemer|Schoeller Allibert",
          "PP-####", "pcs", (24.0, 95.0), (50, 1500), "1200x800x150|1200x1000x160", "9-22 kg"),
        P("Half pallet, ISPM 15, {new|used}", "", "HP-####", "pcs", (5.0, 11.0), (100, 2000),
          "800x600x144", "10-12.5 kg"),
        P("Pallet collar, hinged, 4 hinges", "", "PC-###", "pcs", (3.5, 8.0), (100, 3000),
          "1200x800x200", "9-11 kg"),
    ],
    "chemicals": [
        P("Isopropyl alcohol 99.9%, technical grade", "Brenntag|Carl Roth", "IPA-####", "l",
          (1.6, 4.8), (100, 2000)),
        P("Sodium hydroxide flakes 99%, in PE bags", "Brenntag|Solvay", "NAOH-###", "bag",
          (14.0, 32.0), (20, 800), "", "25-25 kg"),
        P("Citric acid anhydrous, food grade", "Jungbunzlauer|Brenntag", "CA-####", "kg",
          (1.1, 2.9), (100, 5000)),
        P("Industrial degreaser, water based, canister", "Kärcher|Würth", "DG-###-##", "pcs",
          (18.0, 65.0), (10, 300), "", "10-25 kg"),
        P("Epoxy resin, 2-component, clear", "Sika|Henkel", "EPX-###", "set", (22.0, 79.0),
          (10, 300), "", "1.5-5 kg"),
        P("Silicone sealant, {transparent|white}, cartridge", "Soudal|Den Braven|Sika",
          "SIL-####", "pcs", (2.2, 6.8), (100, 3000)),
    ],
}  # fmt: skip

CATALOGUE_RU: dict[str, list[P]] = {
    "fasteners": [
        P("Болт DIN 933 {М8|М10|М12}х{40|50|60} оцинкованный", "Крепёж-Стандарт|Bossard",
          "933-####", "pcs", (0.05, 0.6), (500, 20000)),
        P("Гайка DIN 934 {М8|М10|М12} оцинкованная", "Крепёж-Стандарт|Reyher", "934-###", "pcs",
          (0.03, 0.3), (1000, 20000)),
        P("Саморез по дереву {3,5х35|4,2х75|4,8х90} жёлтый", "Tech-Krep|Стройбат", "1#####", "pack",
          (2.0, 9.0), (50, 1000)),
        P("Анкер клиновой {М10х100|М12х120|М8х75}", "Sormat|Hilti|fischer|MKT", "@@-####", "pcs",
          (0.6, 2.8), (200, 5000)),
        P("Шпилька резьбовая DIN 975 {М8|М10|М12}", "Крепёж-Стандарт|Fabory", "975-##-####", "pcs",
          (0.9, 4.5), (100, 3000), "1000-|2000-"),
        P("Дюбель-гвоздь {6х40|6х60|8х80}, потай", "Стройбат|Tech-Krep", "ДГ-####", "pack",
          (3.0, 11.0), (50, 1000)),
    ],
    "packaging": [
        P("Коробка из гофрокартона, {трёхслойная|пятислойная}", "Гофропак|Картон-Сервис", "Т-###",
          "pcs", (0.3, 2.2), (500, 20000), "400x300x300|600x400x400|300x200x200", "250-900 g"),
        P("Стрейч-плёнка {17|20|23} мкм, ручная", "Стрейч-Пак|Пласт-Лайн", "СП-##-###", "roll",
          (4.0, 12.0), (50, 2000), "", "2.0-2.6 kg"),
        P("Скотч упаковочный {прозрачный|коричневый}", "Unibob|Aviora", "####-###", "roll",
          (0.5, 1.8), (360, 7200)),
        P("Пакет с замком zip-lock {10х15|20х25|30х40}", "Пакет-Мастер", "ZL-####", "pack",
          (1.0, 6.0), (50, 2000)),
        P("Воздушно-пузырчатая плёнка, двухслойная", "Пласт-Лайн|Полипак", "ВПП-###", "roll",
          (9.0, 28.0), (20, 500), "", "3.5-7 kg"),
    ],
    "cable": [
        P("Кабель ВВГнг(А)-LS {3х1,5|3х2,5|5х4|3х6}", "Севкабель|Камкабель|Кольчугино", "ВВГ-###",
          "m", (0.5, 3.8), (100, 5000)),
        P("Провод ПуГВ 1х{1,5|2,5|4|6} {белый|синий|жёлто-зелёный}", "Конкорд|Электрокабель",
          "ПуГВ-###", "m", (0.1, 0.7), (200, 5000)),
        P("Кабель UTP 4х2х0,5 cat.5e, {внутренний|наружный}", "Rexant|Паритет", "01-0###", "m",
          (0.15, 0.6), (305, 6100)),
        P("Кабель КГ-ХЛ {3х4+1х2,5|3х2,5+1х1,5}", "Камкабель|Электрокабель", "КГ-####", "m",
          (1.5, 6.5), (100, 2000)),
        P("Кабель-канал {25х16|40х25|60х40} белый", "IEK|DKC|Экопласт", "CKK-##-###", "pcs",
          (0.6, 3.5), (100, 5000), "2000-"),
        P("Стяжка кабельная {4,8х300|3,6х200|7,6х450} чёрная", "КВТ|Rexant", "07-0###", "pack",
          (1.5, 9.0), (20, 1000)),
    ],
    "furniture": [
        P("Стеллаж металлический, {4|5|6} полок", "Практик|Метал-Завод|Промет", "MS-####", "pcs",
          (40.0, 180.0), (5, 200), "1000x400x2000|1000x500x2200|700x300x1500", "18-40 kg"),
        P("Кресло офисное {CH-868N|Chairman 696|T-898AXSN}", "Бюрократ|Chairman", "КР-####", "pcs",
          (60.0, 260.0), (5, 120), "650x650x1200", "12-19 kg"),
        P("Стол письменный, {бук|венге|белый}", "Мебель-Сервис|Арсенал", "СП-###", "pcs",
          (70.0, 260.0), (2, 80), "1200x600x750|1400x700x750", "22-38 kg"),
        P("Шкаф металлический для одежды ШРМ-{22|24|26}", "Практик|Промет", "S23099######", "pcs",
          (90.0, 260.0), (4, 80), "500x500x1850|600x500x1850|800x500x1850", "25-40 kg"),
        P("Шкаф для документов, 2 двери, {орех|серый}", "Арсенал|Мебель-Сервис", "ШД-####", "pcs",
          (120.0, 340.0), (2, 40), "800x400x1800|800x450x2000", "45-70 kg"),
    ],
    "electronics": [
        P("Конденсатор керамический 0,1 мкФ 50 В X7R 0805", "Murata|Yageo", "GRM21BR71H104K@##@",
          "pcs", (0.004, 0.03), (4000, 100000)),
        P("Резистор SMD 0603 {10 кОм|4,7 кОм|100 Ом} 1%", "Yageo|Resistor Today", "RC0603FR-07##K@",
          "pcs", (0.002, 0.02), (5000, 100000)),
        P("Микроконтроллер STM32F103C8T6", "STMicroelectronics|GigaDevice", "STM32F103C8T6", "pcs",
          (1.8, 5.5), (100, 5000)),
        P("Автоматический выключатель ВА47-29 1P {16|25|32}А, C", "IEK|EKF", "MVA20-1-0##-C", "pcs",
          (1.5, 4.0), (50, 2000)),
        P("Реле промежуточное РЭК77/4 {24В|220В}", "IEK|EKF", "RRP20-4-10-0##", "pcs",
          (1.9, 5.5), (50, 1000)),
        P("Светодиодная панель 36 Вт 595х595, {4000|6500} К", "Feron|Gauss|IEK", "LDVO0-###-##",
          "pcs", (6.0, 19.0), (20, 1000), "", "1.8-3.2 kg"),
    ],
    "office": [
        P("Бумага офисная А4, 80 г/м², 500 листов", "SvetoCopy|Снегурочка|Ballet", "А4-####",
          "pack", (3.5, 6.5), (50, 3000)),
        P("Ручка шариковая {синяя|чёрная}, автоматическая", "BIC|Berlingo|Erich Krause",
          "CBp_#####", "pcs", (0.15, 0.8), (100, 5000)),
        P("Папка-регистратор А4, {синяя|чёрная|красная}", "Erich Krause|Bantex", "ПР-####", "pcs",
          (1.2, 3.8), (50, 2000)),
        P("Картридж {HP 59A|HP 26X|Canon 052}", "HP|Canon|Cactus", "CF2##@", "pcs", (40.0, 140.0),
          (5, 120)),
        P("Блок для записей 9х9, белый", "Attache|Бюрократ", "БЗ-####", "pcs", (0.6, 2.2),
          (100, 3000)),
    ],
    "pallets": [
        P("Поддон деревянный EPAL, {новый|б/у 1 сорт}", "EPAL|", "ПД-###", "pcs", (7.0, 15.0),
          (100, 3000), "1200x800x144", "20-25 kg"),
        P("Поддон деревянный {усиленный|облегчённый}, 9 шашек", "", "ПУ-###", "pcs", (6.0, 14.0),
          (100, 2000), "1200x1000x145|1200x800x140", "22-35 kg"),
        P("Поддон пластиковый, {сплошной|перфорированный}", "Инпласт|Тара-Пласт", "ПП-####", "pcs",
          (20.0, 80.0), (50, 1500), "1200x800x150|1200x1000x160", "9-22 kg"),
        P("Обечайка для поддона, 4 петли", "", "ОБ-###", "pcs", (3.0, 7.0), (100, 3000),
          "1200x800x200", "9-11 kg"),
    ],
    "chemicals": [
        P("Спирт изопропиловый абсолютированный 99,7%", "Экос-1|Химпром", "ИПС-####", "l",
          (1.4, 4.2), (100, 2000)),
        P("Натр едкий (каустическая сода) чешуированный", "Каустик|Химпром", "NaOH-###", "bag",
          (12.0, 28.0), (20, 800), "", "25-25 kg"),
        P("Кислота лимонная моногидрат, пищевая", "Химпром|Weifang Ensign", "КЛ-####", "kg",
          (1.0, 2.6), (100, 5000)),
        P("Обезжириватель универсальный, канистра", "Grass|Химпром", "ОБ-###-##", "pcs",
          (12.0, 48.0), (10, 300), "", "10-22 kg"),
        P("Герметик силиконовый {прозрачный|белый}, картридж", "Soudal|Момент|Tytan", "ГС-####",
          "pcs", (2.0, 6.0), (100, 3000)),
    ],
}  # fmt: skip

# Unit key -> (singular, plural) as written with a quantity; RU words are abbreviations that
# never change with the number, except the declined "штук"/"метров" forms (see synth_text).
UNITS_EN: dict[str, tuple[str, str]] = {
    "pcs": ("pc", "pcs"), "m": ("m", "m"), "kg": ("kg", "kg"), "box": ("box", "boxes"),
    "roll": ("roll", "rolls"), "pack": ("pack", "packs"), "set": ("set", "sets"),
    "l": ("l", "l"), "bag": ("bag", "bags"),
}  # fmt: skip
UNITS_RU: dict[str, tuple[str, str]] = {
    "pcs": ("шт.", "шт."), "m": ("м", "м"), "kg": ("кг", "кг"), "box": ("кор.", "кор."),
    "roll": ("рул.", "рул."), "pack": ("уп.", "уп."), "set": ("компл.", "компл."),
    "l": ("л", "л"), "bag": ("меш.", "меш."),
}  # fmt: skip

# Company name parts. EN: prefix + trade word + legal form; RU: legal form + name.
EN_PREFIX = (
    "Nordic", "Baltic", "Atlas", "Summit", "Rhine", "Pioneer", "Harbor", "Keystone", "Meridian",
    "Northgate", "Silverline", "Bluewater", "Ironbridge", "Alpine", "Orion", "Crestwood",
    "Redwood", "Danube", "Vistula", "Eastfield", "Westbrook", "Highland", "Unity", "Vector",
)  # fmt: skip
EN_TRADE: dict[str, tuple[str, ...]] = {
    "fasteners": ("Fasteners", "Fixings", "Bolt & Nut", "Screw Supply"),
    "packaging": ("Pack", "Packaging", "Carton", "Wrap Solutions"),
    "cable": ("Cable", "Wire & Cable", "Electric Supply", "Cabling"),
    "furniture": ("Office Furniture", "Interiors", "Furnishings", "Workspace"),
    "electronics": ("Components", "Electronics", "Semiconductor Supply", "Parts Distribution"),
    "office": ("Office Supplies", "Stationery", "Office Line", "Paper & Co"),
    "pallets": ("Pallets", "Pallet Systems", "Timber Logistics", "Load Carriers"),
    "chemicals": ("Chemicals", "Chem Trade", "Industrial Fluids", "Chemie Handel"),
}
EN_FORMS = ("Ltd", "GmbH", "Inc.", "B.V.", "AB", "Sp. z o.o.", "LLC", "s.r.o.", "Oy", "A/S")
RU_FORMS = ("ООО", "ООО", "ООО", "АО", "ЗАО", "ТД", "ООО ТД")
# (Cyrillic name, latin slug for the mail domain) per domain.
RU_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "fasteners": (("ТехКрепёж", "techkrep"), ("Крепёж-Маркет", "krep-market"),
                  ("Метизы Урала", "metizy-urala"), ("СтальКреп", "stalkrep")),
    "packaging": (("Упаковка-Сервис", "upak-service"), ("ГофроТара", "gofrotara"),
                  ("ПолиПак", "polipak"), ("Тара Плюс", "tara-plus")),
    "cable": (("Электроснаб", "elektrosnab"), ("КабельОпт", "kabelopt"),
              ("СевЗапКабель", "szkabel"), ("ЭнергоКомплект", "energokomplekt")),
    "furniture": (("Офис-Мебель", "office-mebel"), ("МебельПроект", "mebelproekt"),
                  ("СтеллажСтрой", "stellazhstroy"), ("Рабочее место", "rabmesto")),
    "electronics": (("ЧипКомплект", "chipkomplekt"), ("Радиодеталь", "radiodetal"),
                    ("ЭлКомпонент", "elkomponent"), ("Промэлектроника", "promelec")),
    "office": (("Канцлэнд", "kanzland"), ("Офис-Снаб", "office-snab"), ("БумТорг", "bumtorg"),
               ("Комус-Регион", "komus-region")),
    "pallets": (("Поддон-Центр", "poddon-center"), ("ЛесТара", "lestara"),
                ("ПаллетСервис", "palletservice"), ("ЕвроПоддон", "europoddon")),
    "chemicals": (("ХимТорг", "himtorg"), ("РеактивСнаб", "reaktivsnab"),
                  ("ПромХимия", "promhimiya"), ("Химические технологии", "himtech")),
}  # fmt: skip

EN_FIRST = (
    "Anna", "Peter", "Maria", "John", "Laura", "Thomas", "Sophie", "Daniel", "Emma", "Lukas",
    "Olivia", "Martin", "Julia", "Mark", "Sarah", "Jan", "Eva", "Michael", "Clara", "David",
)  # fmt: skip
EN_LAST = (
    "Schmidt", "Miller", "Novak", "Jensen", "Kowalski", "Brown", "Lindqvist", "de Vries",
    "Weber", "Hughes", "Andersen", "Fischer", "Taylor", "Horvat", "Müller", "Clarke", "Berg",
)  # fmt: skip
# (first name, patronymic, last name) as (nominative) male or female triples.
RU_PEOPLE = (
    ("Иван", "Сергеевич", "Петров"), ("Анна", "Викторовна", "Смирнова"),
    ("Дмитрий", "Александрович", "Козлов"), ("Елена", "Игоревна", "Васильева"),
    ("Сергей", "Николаевич", "Морозов"), ("Ольга", "Павловна", "Новикова"),
    ("Алексей", "Андреевич", "Волков"), ("Татьяна", "Юрьевна", "Фёдорова"),
    ("Михаил", "Олегович", "Лебедев"), ("Наталья", "Сергеевна", "Кузнецова"),
    ("Андрей", "Владимирович", "Соколов"), ("Мария", "Дмитриевна", "Попова"),
)  # fmt: skip
TITLES_EN = ("Sales Manager", "Key Account Manager", "Inside Sales", "Sales Engineer",
             "Head of Sales", "Customer Service")  # fmt: skip
TITLES_RU = ("менеджер по продажам", "менеджер отдела продаж", "ведущий менеджер",
             "коммерческий директор", "специалист отдела снабжения")  # fmt: skip

# (city, street address, country or "", phone pattern) of suppliers.
PLACES_EN = (
    ("Hamburg", "Industriestraße 12, 20457 Hamburg", "Germany", "+49 40 #### ####"),
    ("Rotterdam", "Waalhaven Z.z. 45, 3089 JH Rotterdam", "Netherlands", "+31 10 ### ####"),
    ("Gothenburg", "Hamngatan 8, 411 06 Göteborg", "Sweden", "+46 31 ### ## ##"),
    ("Manchester", "Unit 4, Trafford Park, Manchester M17 1AB", "UK", "+44 161 ### ####"),
    ("Gdansk", "ul. Przemysłowa 7, 80-542 Gdańsk", "Poland", "+48 58 ### ## ##"),
    ("Brno", "Vídeňská 101, 619 00 Brno", "Czech Republic", "+420 5## ### ###"),
    ("Chicago", "1200 W Fulton St, Chicago, IL 60607", "USA", "+1 (312) 555-####"),
    ("Antwerp", "Noorderlaan 133, 2030 Antwerpen", "Belgium", "+32 3 ### ## ##"),
    ("Tallinn", "Peterburi tee 46, 11415 Tallinn", "Estonia", "+372 6## ####"),
    ("Shenzhen", "No. 18 Keji Road, Nanshan District, Shenzhen", "China", "+86 755 #### ####"),
)  # fmt: skip
PLACES_RU = (
    ("Москва", "г. Москва, ул. Складочная, д. 1, стр. 6", "+7 (495) ###-##-##"),
    ("Санкт-Петербург", "196084, г. Санкт-Петербург, ул. Заставская, д. 22", "+7 (812) ###-##-##"),
    ("Екатеринбург", "620026, г. Екатеринбург, ул. Луначарского, д. 81", "+7 (343) ###-##-##"),
    ("Новосибирск", "630099, г. Новосибирск, ул. Фрунзе, д. 5, офис 312", "+7 (383) ###-##-##"),
    ("Казань", "420107, г. Казань, ул. Петербургская, д. 50", "+7 (843) ###-##-##"),
    ("Нижний Новгород", "603000, г. Нижний Новгород, ул. Ильинская, д. 37", "8 (831) ###-##-##"),
    ("Самара", "443013, г. Самара, Московское ш., д. 4", "+7 (846) ###-##-##"),
    ("Ростов-на-Дону", "344002, г. Ростов-на-Дону, пр. Будённовский, д. 9", "8 (863) ###-##-##"),
)  # fmt: skip
PORTS_EN = ("Hamburg", "Rotterdam", "Antwerp", "Shanghai", "Ningbo", "Gdansk", "Felixstowe")
BUYER_CITIES_EN = ("Warsaw", "Vienna", "Munich", "Prague", "Lyon", "Birmingham", "Milan", "Oslo")
BUYER_CITIES_RU = ("Москва", "Тверь", "Краснодар", "Воронеж", "Пермь", "Уфа", "Тула", "Омск")

BUYERS_EN = (
    ("Westline Retail GmbH", "westline.example"), ("Oakridge Manufacturing", "oakridge.example"),
    ("Polaris Facility Services", "polaris-fs.example"), ("Hanse Bau AG", "hansebau.example"),
)  # fmt: skip
BUYERS_RU = (
    ("ООО «СтройИнвест»", "stroyinvest.example"), ("АО «Волгаэнерго»", "volgaenergo.example"),
    ("ООО «Ритейл Групп»", "retailgroup.example"), ("ООО «Завод Прогресс»", "progress.example"),
)  # fmt: skip
CARRIERS_EN = ("DHL Freight", "DB Schenker", "Kuehne+Nagel", "DSV", "Raben", "UPS Freight")
CARRIERS_RU = ("Деловые Линии", "ПЭК", "СДЭК", "Байкал Сервис", "КИТ", "Энергия")

_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", [
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
    "s", "t", "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya",
], strict=True))  # fmt: skip


def translit(s: str) -> str:
    """Latin transliteration of a Russian name (for e-mail addresses)."""
    return "".join(_TRANSLIT.get(c, c) for c in s.lower())
