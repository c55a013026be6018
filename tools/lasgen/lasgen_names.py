"""lasgen_names - word lists for synthetic Dutch school data.

Everything here is a common first name, a common surname, a generic street
word or a real town with its postcode range and area code. The generator only
ever combines them at random, so no record describes a real person. E-mail
addresses are always in the example.nl / example.com domains.

Surnames are (tussenvoegsel, achternaam, origin) triples; the origin picks a
matching pool of first names for part of the family, as Dutch classrooms mix
names of many origins.
"""

# -- first names --------------------------------------------------------------

# Children (born 2014-2023), by origin. "nl" doubles as the general pool.
CHILD_GIRLS = {
    "nl": ["Emma", "Julia", "Mila", "Tess", "Sophie", "Zoë", "Sara", "Nora", "Yara", "Eva",
           "Liv", "Lotte", "Evi", "Anna", "Saar", "Noor", "Fenna", "Lieke", "Fleur", "Roos",
           "Isa", "Lynn", "Sanne", "Femke", "Jasmijn", "Nina", "Elin", "Maud", "Olivia", "Lina",
           "Lara", "Ella", "Mia", "Vera", "Puck", "Esmee", "Floor", "Naomi", "Noa", "Suze",
           "Hanna", "Myrthe", "Sofie", "Chloë", "Anaïs", "Loïs", "Joëlle", "Merel", "Jill", "Zara",
           "Amber", "Ilse", "Romy", "Iris", "Lisa", "Fien", "Benthe", "Nova", "Lize", "Madelief"],
    "tr": ["Elif", "Zeynep", "Ayla", "Defne", "Eylül", "Azra", "Asya", "Elanur", "Nehir", "Duru"],
    "ma": ["Amira", "Aya", "Inaya", "Hiba", "Salma", "Maryam", "Nour", "Lina", "Yasmina", "Sanae"],
    "pl": ["Zuzanna", "Julia", "Maja", "Hanna", "Lena", "Zofia", "Amelia", "Oliwia", "Natalia", "Wiktoria"],
    "sr": ["Priya", "Anjali", "Shanti", "Kavita", "Naisha", "Riya", "Soraya", "Deeya", "Mayra", "Indira"],
}
CHILD_BOYS = {
    "nl": ["Noah", "Daan", "Sem", "Lucas", "Levi", "Finn", "Luuk", "Milan", "Bram", "Liam",
           "Jesse", "Sam", "Mees", "Thomas", "Adam", "Thijs", "Max", "Ruben", "Julian", "Tim",
           "Gijs", "Siem", "Mats", "Teun", "Hugo", "Stijn", "Lars", "Benjamin", "Jens", "Olivier",
           "Tobias", "Daniël", "Noël", "Joël", "Raphaël", "Boaz", "Morris", "Dex", "Guus", "Ties",
           "Pepijn", "Wout", "Jip", "Koen", "Floris", "Otis", "Nout", "Kai", "Vince", "Owen",
           "Jurre", "Cas", "Joep", "Hidde", "Sepp", "Mick", "Ravi", "Loek", "Tijn", "Abel"],
    "tr": ["Emir", "Mert", "Yusuf", "Kerem", "Eymen", "Burak", "Efe", "Alperen", "Çağan", "Baran"],
    "ma": ["Mohamed", "Ayoub", "Ilyas", "Rayan", "Omar", "Adam", "Yassin", "Amir", "Zakaria", "Anas"],
    "pl": ["Jakub", "Antoni", "Szymon", "Filip", "Kacper", "Jan", "Mikołaj", "Aleksander", "Franciszek", "Wojciech"],
    "sr": ["Arjun", "Rohan", "Dev", "Kiran", "Ravi", "Vikash", "Nikhil", "Jayden", "Shivan", "Aryan"],
}

# Adults (born 1970-1998), by origin.
ADULT_WOMEN = {
    "nl": ["Anna", "Sanne", "Lisa", "Laura", "Kim", "Linda", "Marieke", "Inge", "Esther", "Judith",
           "Mirjam", "Femke", "Anouk", "Chantal", "Nicole", "Petra", "Sandra", "Ilse", "Eline", "Marloes",
           "Kelly", "Daphne", "Manon", "Iris", "Suzanne", "Ingrid", "Nathalie", "Miranda", "Wendy", "Yvonne",
           "Noëlle", "Renée", "Maaike", "Hanneke", "Joyce", "Mariëlle", "Anneloes", "Tamara", "Marjolein", "Ellen",
           "Karin", "Monique", "Bianca", "Jolien", "Lotte", "Charlotte", "Evelien", "Annemiek", "Sabine", "Rianne"],
    "tr": ["Ayşe", "Fatma", "Hatice", "Esra", "Büşra", "Merve", "Gül", "Özlem", "Derya", "Sevgi"],
    "ma": ["Fatima", "Khadija", "Naima", "Samira", "Karima", "Hanan", "Latifa", "Nadia", "Soumaya", "Malika"],
    "pl": ["Agnieszka", "Ewa", "Katarzyna", "Magdalena", "Joanna", "Anna", "Monika", "Małgorzata", "Beata", "Dorota"],
    "sr": ["Sharda", "Anita", "Kiran", "Reshma", "Sunita", "Nisha", "Radha", "Sita", "Usha", "Meera"],
}
ADULT_MEN = {
    "nl": ["Mark", "Jeroen", "Pieter", "Tom", "Bas", "Dennis", "Martijn", "Thomas", "Sander", "Jasper",
           "Niels", "Maarten", "Erik", "Rob", "Michiel", "Wouter", "Joost", "Frank", "Ronald", "Marco",
           "Patrick", "Stefan", "Vincent", "Arjen", "Ruud", "René", "André", "Gerrit", "Hans", "Koen",
           "Remco", "Joris", "Bart", "Jan-Willem", "Rik", "Timo", "Michaël", "Edwin", "Roel", "Lennart",
           "Sjoerd", "Wessel", "Gijs", "Tim", "Daan", "Ivo", "Hugo", "Arnoud", "Menno", "Freek"],
    "tr": ["Mehmet", "Mustafa", "Hüseyin", "Ahmet", "Murat", "Hakan", "Emre", "Serkan", "Volkan", "Cem"],
    "ma": ["Mohammed", "Ahmed", "Youssef", "Hassan", "Rachid", "Karim", "Mustapha", "Abdel", "Said", "Nordin"],
    "pl": ["Piotr", "Tomasz", "Krzysztof", "Paweł", "Marcin", "Łukasz", "Michał", "Grzegorz", "Adam", "Rafał"],
    "sr": ["Rajesh", "Anil", "Ramesh", "Sunil", "Vijay", "Ashwin", "Girish", "Soerin", "Prakash", "Dinesh"],
}

# Formal first names given as voornamen while the child is called otherwise.
FORMAL_NAMES_GIRLS = [("Catharina", "Cato"), ("Elisabeth", "Lisa"), ("Josephina", "Fien"),
                      ("Wilhelmina", "Mina"), ("Margaretha", "Margot"), ("Alexandra", "Sacha"),
                      ("Johanna", "Jo"), ("Cornelia", "Nelleke"), ("Helena", "Lenthe"),
                      ("Susanna", "Suus")]
FORMAL_NAMES_BOYS = [("Johannes", "Jan"), ("Jacobus", "Koos"), ("Cornelis", "Kees"),
                     ("Hendrik", "Rik"), ("Nicolaas", "Niek"), ("Alexander", "Sander"),
                     ("Maximiliaan", "Max"), ("Sebastiaan", "Bas"), ("Theodorus", "Teun"),
                     ("Gerardus", "Gerrit")]

# Second and third voornamen (the Dutch habit of naming after grandparents).
MIDDLE_NAMES_GIRLS = ["Johanna", "Maria", "Elisabeth", "Catharina", "Wilhelmina", "Cornelia",
                      "Hendrika", "Anna", "Sophia", "Geertruida", "Louise", "Fleur", "Rose", "Lynn"]
MIDDLE_NAMES_BOYS = ["Johannes", "Petrus", "Hendrik", "Cornelis", "Jacobus", "Willem", "Gerardus",
                     "Adrianus", "Theodorus", "Maria", "Jan", "Pieter", "Frederik", "Alexander"]

# -- surnames -----------------------------------------------------------------

def _nl(*names):
    """Split "van der Meer" style names into (tussenvoegsel, achternaam, "nl")."""
    out = []
    for full in names:
        words = full.split(" ")
        infix = [w for w in words[:-1] if w[0].islower() or w[0] == "'"]
        out.append((" ".join(infix), " ".join(words[len(infix):]), "nl"))
    return out


SURNAMES = _nl(
    "Jansen", "de Jong", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
    "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
    "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer",
    "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "van der Veen",
    "van den Broek", "de Bruijn", "de Bruin", "van der Heijden", "Schouten", "van Beek", "Willems",
    "van Vliet", "van de Ven", "Hoekstra", "Maas", "Verhoeven", "Koster", "van Dam", "van der Wal",
    "Prins", "Blom", "Huisman", "Peeters", "de Lange", "van Wijk", "Kuipers", "Post", "ter Horst",
    "te Riele", "ten Brink", "ter Haar", "van 't Hof", "in 't Veld", "den Hartog", "van Rijn",
    "Postma", "Wolters", "Kramer", "Veenstra", "Timmermans", "Bosman", "van Vugt", "Hermans",
    "Boersma", "Scholten", "Hofman", "Groen", "van Loon", "Evers", "Sanders", "Wouters",
) + [
    ("", "Yilmaz", "tr"), ("", "Çelik", "tr"), ("", "Kaya", "tr"), ("", "Demir", "tr"),
    ("", "Şahin", "tr"), ("", "Öztürk", "tr"), ("", "Aydın", "tr"), ("", "Koç", "tr"),
    ("", "El Amrani", "ma"), ("", "Bouzid", "ma"), ("", "El Idrissi", "ma"), ("", "Benali", "ma"),
    ("", "Ait Taleb", "ma"), ("", "Haddou", "ma"), ("", "El Khatib", "ma"), ("", "Ouali", "ma"),
    ("", "Nowak", "pl"), ("", "Kowalski", "pl"), ("", "Wiśniewski", "pl"), ("", "Lewandowska", "pl"),
    ("", "Ramdin", "sr"), ("", "Biharie", "sr"), ("", "Jagessar", "sr"), ("", "Ramsaran", "sr"),
]

# Share of families by surname origin (the rest of the list is "nl").
ORIGIN_WEIGHTS = {"nl": 76, "tr": 8, "ma": 8, "pl": 4, "sr": 4}

# -- places -------------------------------------------------------------------

# (plaats, area code, first postcode, last postcode)
TOWNS = [
    ("Utrecht", "030", 3511, 3585), ("Zwolle", "038", 8011, 8043), ("Amersfoort", "033", 3811, 3829),
    ("Groningen", "050", 9711, 9747), ("Tilburg", "013", 5011, 5049), ("Ede", "0318", 6711, 6718),
    ("Zoetermeer", "079", 2711, 2729), ("Haarlem", "023", 2011, 2037), ("Apeldoorn", "055", 7311, 7339),
    ("Almere", "036", 1311, 1364), ("Leeuwarden", "058", 8911, 8939), ("Breda", "076", 4811, 4839),
    ("Deventer", "0570", 7411, 7429), ("Delft", "015", 2611, 2629), ("Enschede", "053", 7511, 7548),
    ("Nijmegen", "024", 6511, 6546), ("Assen", "0592", 9401, 9409), ("Gouda", "0182", 2801, 2809),
    ("Hoorn", "0229", 1621, 1628), ("Den Bosch", "073", 5211, 5248), ("Meppel", "0522", 7941, 7949),
    ("Sneek", "0515", 8601, 8608), ("Veenendaal", "0318", 3901, 3907), ("Zeist", "030", 3701, 3709),
]

# Street = stem + suffix, or one of the named streets.
STREET_STEMS = ["Linden", "Kastanje", "Eiken", "Beuken", "Berken", "Esdoorn", "Wilgen", "Populier",
                "Iepen", "Acacia", "Tulpen", "Rozen", "Anjer", "Lelie", "Narcissen", "Krokus",
                "Zonnebloem", "Merel", "Lijster", "Specht", "Zwaluw", "Kievit", "Reiger", "Valk",
                "Molen", "Kerk", "School", "Dorps", "Haven", "Markt", "Spoor", "Veld", "Beek",
                "Dijk", "Weide", "Akker", "Hoeve", "Brink", "Vlier", "Hazelaar", "Meidoorn", "Jasmijn",
                "Goudsbloem", "Klaver", "Koren", "Tarwe", "Haver", "Gerst", "Vlas", "Hennep"]
STREET_SUFFIXES = ["straat", "laan", "weg", "hof", "plein", "singel", "dreef", "pad", "kade", "erf"]
NAMED_STREETS = ["Prinses Irenestraat", "Willem de Zwijgerlaan", "Van Goghstraat", "Rembrandtlaan",
                 "Vondelstraat", "Julianalaan", "Oranjestraat", "Wilhelminastraat", "Beatrixlaan",
                 "Thorbeckestraat", "Mozartlaan", "Händelstraat", "Van Speijkstraat", "Sint Jansstraat",
                 "Dr. Schaepmanstraat", "Plein 1944", "Burgemeester de Withstraat", "Prins Hendrikkade",
                 "Johan de Wittlaan", "Vincent van Goghplein", "Mgr. Nolenslaan", "Koningin Julianaplein"]
HOUSE_NUMBER_SUFFIXES = ["A", "B", "C", "a", "b", "1", "2", "bis", "hs", "II"]
# Letters used in Dutch postcodes (F, I, O, Q, U and Y are not).
POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
POSTCODE_FORBIDDEN = ("SA", "SD", "SS")

# -- schools ------------------------------------------------------------------

SCHOOL_KINDS = ["Basisschool", "OBS", "CBS", "RKBS", "IKC", "Daltonschool", "Jenaplanschool",
                "Montessorischool"]
SCHOOL_NAMES = ["De Linde", "Het Kompas", "De Regenboog", "De Zonnewijzer", "De Wilg", "Het Palet",
                "De Springplank", "De Vlinder", "Het Baken", "De Toermalijn", "De Klimop",
                "De Fontein", "Het Anker", "De Horizon", "De Ark", "Sint Jozef", "De Wegwijzer",
                "De Kameleon", "Het Mozaïek", "De Vuurtoren", "Het Startpunt", "De Bolster",
                "De Meander", "Het Spectrum", "De Esdoorn", "De Optimist", "De Tweemaster"]

SUBLESGROEP_NAMES = [("Rekenplus", 4, 8), ("Taalklas", 3, 5), ("Plusklas", 5, 8), ("Leesclub", 3, 6),
                     ("NT2-groep", 1, 4), ("Rekenklas", 3, 6), ("Taalplus", 5, 8),
                     ("Denkdoeners", 6, 8), ("Schaakclub", 4, 8), ("Kangoeroegroep", 3, 5),
                     ("Spellingspecial", 4, 7), ("Leesbevordering", 3, 4), ("Topklas", 7, 8)]
