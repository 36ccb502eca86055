#include "bpe.h"

#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

#include <cstdio>
#include <mutex>
#include <queue>

namespace tunebench {

namespace {

struct Symbol {
    std::int32_t id;
    std::int32_t prev;
    std::int32_t next;
    bool alive;
};

struct QueuedMerge {
    std::uint32_t rank;
    std::int32_t pos;
    std::int32_t id;
    // std::priority_queue is a max-heap: the "largest" entry is the lowest rank,
    // and among equal ranks the leftmost position.
    bool operator<(const QueuedMerge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

} // namespace

Bpe::Bpe(Vocabulary vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
    const std::string& where)
    : m_vocab(std::move(vocab))
    , m_options(std::move(options))
{
    std::int32_t maxId = -1;
    for (const auto& [token, id] : m_vocab) {
        if (id < 0)
            throw InputError(where + ": token " + token + " has a negative id " + std::to_string(id));
        maxId = std::max(maxId, id);
    }
    m_idToToken.resize(static_cast<std::size_t>(maxId + 1));
    m_hasId.resize(m_idToToken.size(), false);
    for (const auto& [token, id] : m_vocab) {
        m_idToToken[static_cast<std::size_t>(id)] = token;
        m_hasId[static_cast<std::size_t>(id)] = true;
    }
    m_merges.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [a, b] = merges[rank];
        const auto missing = [&](const std::string& token) {
            return InputError(
                where + "[" + std::to_string(rank) + "]: merge part \"" + token + "\" is not in the vocabulary");
        };
        const auto ia = m_vocab.find(a);
        if (ia == m_vocab.end())
            throw missing(a);
        const auto ib = m_vocab.find(b);
        if (ib == m_vocab.end())
            throw missing(b);
        // The merged token keeps the prefix of the right part (as the library builds it).
        const std::string& prefix = m_options.continuingSubwordPrefix;
        const std::string merged = b.compare(0, prefix.size(), prefix) == 0 ? a + b.substr(prefix.size()) : a + b;
        const auto im = m_vocab.find(merged);
        if (im == m_vocab.end())
            throw missing(merged);
        // A pair listed twice keeps its later rank, as the library's map insertion does.
        m_merges[pairKey(ia->second, ib->second)] = { static_cast<std::uint32_t>(rank), im->second };
    }
    if (m_options.unkToken) {
        if (const auto it = m_vocab.find(*m_options.unkToken); it != m_vocab.end())
            m_unkId = it->second;
    }
    if (m_options.byteFallback) {
        m_byteIds.resize(256);
        char name[8];
        for (int b = 0; b < 256; ++b) {
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            if (const auto it = m_vocab.find(std::string_view(name)); it != m_vocab.end())
                m_byteIds[static_cast<std::size_t>(b)] = it->second;
        }
    }
}

std::optional<std::int32_t> Bpe::tokenToId(std::string_view token) const
{
    const auto it = m_vocab.find(token);
    if (it == m_vocab.end())
        return std::nullopt;
    return it->second;
}

const std::string* Bpe::idToToken(std::int32_t id) const
{
    if (id < 0 || static_cast<std::size_t>(id) >= m_idToToken.size() || !m_hasId[static_cast<std::size_t>(id)])
        return nullptr;
    return &m_idToToken[static_cast<std::size_t>(id)];
}

void Bpe::tokenize(std::string_view word, std::vector<std::int32_t>& out) const
{
    if (word.empty())
        return;
    if (m_options.ignoreMerges) {
        if (const auto it = m_vocab.find(word); it != m_vocab.end()) {
            out.push_back(it->second);
            return;
        }
    }
    const bool cacheable = word.size() < kMaxCachedWordLength;
    if (cacheable) {
        std::shared_lock lock(m_cacheMutex);
        if (const auto it = m_cache.find(word); it != m_cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    mergeWord(word, out);
    if (cacheable) {
        std::unique_lock lock(m_cacheMutex);
        // Like the library's cache, a full cache keeps what it has rather than evicting.
        if (m_cache.size() < kCacheCapacity)
            m_cache.emplace(std::string(word),
                std::vector<std::int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
    }
}

// Long for a reason: the hot loop of BPE (the merge heap over a word's symbols, dropout, byte fallback) kept in
// one function so its buffers stay local; tokenisation speed is measured in bench_tokenizer.
void Bpe::mergeWord(std::string_view word, std::vector<std::int32_t>& out) const
{
    std::vector<Symbol> symbols;
    symbols.reserve(word.size());
    const auto add = [&](std::int32_t id) {
        const auto index = static_cast<std::int32_t>(symbols.size());
        if (!symbols.empty())
            symbols.back().next = index;
        symbols.push_back({ id, index - 1, -1, true });
    };
    const auto requireUnk = [&]() -> std::int32_t {
        if (!m_unkId)
            throw InputError("the BPE model's unk_token \"" + *m_options.unkToken + "\" is not in its vocabulary");
        return *m_unkId;
    };

    // Symbols for each character; unknown ones become byte tokens or unk.
    bool pendingUnk = false;
    std::string symbol;
    std::size_t pos = 0;
    while (pos < word.size()) {
        const std::size_t begin = pos;
        pos += unicode::sequenceLength(static_cast<unsigned char>(word[pos]));
        pos = std::min(pos, word.size());
        const std::string_view ch = word.substr(begin, pos - begin);
        symbol.clear();
        if (begin > 0)
            symbol.append(m_options.continuingSubwordPrefix);
        symbol.append(ch);
        if (pos == word.size())
            symbol.append(m_options.endOfWordSuffix);

        if (const auto it = m_vocab.find(std::string_view(symbol)); it != m_vocab.end()) {
            if (pendingUnk) {
                add(requireUnk());
                pendingUnk = false;
            }
            add(it->second);
            continue;
        }
        if (m_options.byteFallback) {
            bool all = true;
            for (const char c : symbol)
                all = all && m_byteIds[static_cast<unsigned char>(c)].has_value();
            if (all) {
                // A pending unk is left pending here, as the library does.
                for (const char c : symbol)
                    add(*m_byteIds[static_cast<unsigned char>(c)]);
                continue;
            }
        }
        if (m_options.unkToken) {
            if (pendingUnk && !m_options.fuseUnk)
                add(requireUnk());
            requireUnk();
            pendingUnk = true;
        }
        // Without unk token or byte fallback an unknown character is dropped.
    }
    if (pendingUnk)
        add(requireUnk());

    if (symbols.size() > 1) {
        std::vector<QueuedMerge> storage;
        storage.reserve(symbols.size() * 2);
        std::priority_queue<QueuedMerge> queue(std::less<QueuedMerge>(), std::move(storage));
        const auto lookup = [&](std::int32_t a, std::int32_t b) -> const MergeTarget* {
            const auto it = m_merges.find(pairKey(a, b));
            return it == m_merges.end() ? nullptr : &it->second;
        };
        for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
            if (const MergeTarget* m = lookup(symbols[i].id, symbols[i + 1].id))
                queue.push({ m->rank, static_cast<std::int32_t>(i), m->id });
        }
        while (!queue.empty()) {
            const QueuedMerge top = queue.top();
            queue.pop();
            Symbol& left = symbols[static_cast<std::size_t>(top.pos)];
            if (!left.alive || left.next < 0)
                continue;
            Symbol& right = symbols[static_cast<std::size_t>(left.next)];
            // Entries go stale when a neighbour merged first; the pair must still give this target.
            const MergeTarget* current = lookup(left.id, right.id);
            if (!current || current->id != top.id)
                continue;
            left.id = top.id;
            right.alive = false;
            left.next = right.next;
            if (left.next >= 0)
                symbols[static_cast<std::size_t>(left.next)].prev = top.pos;
            if (left.prev >= 0) {
                const Symbol& p = symbols[static_cast<std::size_t>(left.prev)];
                if (const MergeTarget* m = lookup(p.id, left.id))
                    queue.push({ m->rank, left.prev, m->id });
            }
            if (left.next >= 0) {
                const Symbol& n = symbols[static_cast<std::size_t>(left.next)];
                if (const MergeTarget* m = lookup(left.id, n.id))
                    queue.push({ m->rank, top.pos, m->id });
            }
        }
    }
    for (const Symbol& s : symbols)
        if (s.alive)
            out.push_back(s.id);
}

} // namespace tunebench
